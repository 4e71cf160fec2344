"""Reading and checking request parameters, with messages that say what was wrong."""
from __future__ import annotations

from functools import lru_cache

from flask import abort, current_app, request

from geo.views import analysis
from geo.stats.classify import SCHEMES
from geo.store.folder import StoreError


def store():
    return current_app.extensions["gapmap_store"]


def extent() -> analysis.Extent:
    """The extent asked for by ?icb=, ?lad= or ?ward= (one of them); 404 when it is unknown."""
    if request.args.get("extent") == "england":
        return analysis.Extent()
    given = [(level, request.args.get(level)) for level in ("icb", "lad", "ward") if request.args.get(level)]
    if len(given) > 1:
        abort(400, description="give one of icb, lad and ward")
    if not given:
        return analysis.Extent("icb", current_app.config["DEFAULT_ICB"])
    level, code = given[0]
    try:
        known = _extent_known(store().identity, store().build_id(), level, code)
    except StoreError as exc:
        abort(503, description=str(exc))
    if not known:
        abort(404, description=f"no {level} with code {code!r} in this store")
    return analysis.Extent(level, code)


@lru_cache(maxsize=4096)
def _extent_known(root: str, build: str, level: str, code: str) -> bool:
    return not store().lsoas(geometry=False, columns=["lsoa21cd"], **{level: code}).empty


@lru_cache(maxsize=16)
def _numeric_columns(root: str, build: str) -> frozenset:
    return frozenset(analysis.numeric_columns(store()))


def indicator() -> str:
    name = request.args.get("indicator", "imd_score")
    known = set(_numeric_columns(store().identity, store().build_id()))
    from geo.store.datasets import DatasetStore

    known |= set(DatasetStore(store()).names())
    if name not in known:
        abort(404, description=f"unknown indicator {name!r}")
    return name


def scheme() -> tuple[str, int]:
    name = request.args.get("scheme", "quantiles")
    if name not in SCHEMES or name == "user":
        abort(400, description=f"scheme must be one of {', '.join(s for s in SCHEMES if s != 'user')}")
    try:
        k = int(request.args.get("k", 5))
    except ValueError:
        abort(400, description="k must be a whole number")
    if not 2 <= k <= 9:
        abort(400, description="k must be between 2 and 9")
    return name, k


def focus() -> str | None:
    value = request.args.get("focus", "").strip()
    if value and not value.replace("E", "").isdigit():
        abort(400, description="focus must be an LSOA or ward code")
    return value or None
