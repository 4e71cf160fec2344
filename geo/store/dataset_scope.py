"""Which uploaded datasets a user may see: NHS data-sharing agreements scope patient-derived data
to the ICB that holds it.

A :class:`Scope` says who is looking. A user sees a dataset when

* it is marked ``shared`` by an admin (national open data, or data an ICB agreed to share), or
* its ``owner_icb`` is the user's ICB (under its ONS or NHS code), or
* they uploaded it themselves (``owner``);

admins and the single-user local admin see every dataset (:attr:`Scope.everything`). A dataset
with no ICB (ingested from the command line without ``--icb``) is seen by admins only, until an
admin shares it.

:func:`scoped` gives a view of a store in which the datasets a user may not see do not exist:
``DatasetStore(view)`` lists, gets and describes only the others, and asking for a hidden one
raises exactly the :class:`~geo.store.datasets.DatasetError` an unknown name raises, so its
existence does not leak. Everything else (the build's tables, saving) is the store itself, and
``version_key()`` also names the datasets seen, so caches keyed on it never serve one user's
view to another. Every route of the service reads the store through such a view.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from geo.store.datasets import DatasetError, DatasetStore, check_name


@dataclass(frozen=True)
class Scope:
    """Who is looking: ``everything`` (admins), else a user name and their ICB's codes (upper case)."""

    everything: bool = False
    user: str | None = None
    icbs: frozenset = field(default_factory=frozenset)

    def sees(self, meta: dict | None) -> bool:
        """True when this user may see the dataset described by ``meta``."""
        if self.everything:
            return True
        meta = meta or {}
        if meta.get("shared") is True:
            return True
        if self.user and meta.get("owner") == self.user:
            return True
        icb = str(meta.get("owner_icb") or "").strip().upper()
        return bool(icb) and icb in self.icbs


EVERYTHING = Scope(everything=True)


class ScopedDatasets:
    """A dataset store that holds only the datasets ``scope`` sees (see the module docstring);
    saving, removing and the rest are the underlying store's."""

    def __init__(self, inner, scope: Scope):
        self._inner, self.scope = inner, scope

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def _visible(self) -> list:
        out = []
        for name in self._inner.names():
            try:
                dataset = self._inner.get(name)
                if self.scope.sees(dataset.meta):
                    out.append((name, dataset))
            except (DatasetError, FileNotFoundError):  # removed or replaced while listed
                continue
        return out

    def names(self) -> list[str]:
        return [name for name, _ in self._visible()]

    def list(self) -> list[dict]:
        return [dataset.meta for _, dataset in self._visible()]

    def unknown(self, name: str) -> DatasetError:
        """The error for a name this user cannot see: the same words as for a name nobody has used."""
        known = ", ".join(self.names()) or "none yet"
        return DatasetError(f"no dataset called {name!r} (datasets: {known})")

    def get(self, name: str):
        check_name(name)
        try:
            dataset = self._inner.get(name)
        except DatasetError:
            raise self.unknown(name) from None
        if not self.scope.sees(dataset.meta):
            raise self.unknown(name)
        return dataset

    def remove(self, name: str) -> None:
        self.get(name)  # a hidden dataset cannot be removed through this view
        self._inner.remove(name)

    def set_shared(self, name: str, shared: bool) -> None:
        self.get(name)
        self._inner.set_shared(name, shared)


class ScopedStore:
    """``store`` as seen by ``scope``: the same build, only the datasets the scope sees."""

    def __init__(self, store, scope: Scope):
        self._store, self.dataset_scope = store, scope

    def __getattr__(self, name):
        return getattr(self._store, name)

    def __repr__(self) -> str:
        return f"ScopedStore({self._store!r})"

    @property
    def unscoped(self):
        """The store itself, every dataset included (to tell whether a name is taken)."""
        return self._store

    def dataset_store(self) -> ScopedDatasets:
        return ScopedDatasets(DatasetStore(self._store), self.dataset_scope)

    def version_key(self) -> str:
        """The store's version key and the names of the datasets seen: a dataset shared, or hidden,
        changes it."""
        return f"{self._store.version_key()}|sees:{','.join(self.dataset_store().names())}"


def scoped(store, scope: Scope):
    """``store`` as ``scope`` sees it (the store itself for a scope that sees everything)."""
    if scope.everything:
        return store
    return ScopedStore(store, scope)


def unscoped(store):
    """The store under a scoped view (or the store itself)."""
    return getattr(store, "unscoped", store)
