"""The map table: ONE per-LSOA table that every view of an indicator over an extent reads.

The web map and its tooltips, the side panel and targeting list, the exports (GeoJSON,
GeoPackage, CSV, offline HTML, ward tables), the slides and the JSON API all take their numbers
from :func:`map_table`; nothing else computes classes or statistics for them, so the same request
gives the same numbers everywhere and each statistic is computed once per request.

Order of work (disclosure control first, once, before anything is derived):

1. The indicator's values (:func:`geo.views.analysis.indicator_values`). For an activity dataset the
   dataset version is read once (meta and counts held in memory) so that a re-ingest while the
   request runs cannot pull the files from under it.
2. Disclosure control (:mod:`geo.rates.disclosure`, the dataset's own rule): counts from
   ``suppress_from`` to ``suppress_to`` are suppressed, others rounded to ``round_to``; the rate
   and its 95% interval (:func:`geo.rates.confidence_intervals.crude_rate`, per 1,000 residents) are
   computed from the *rounded* count, so rate x population gives back only the published count;
   suppressed LSOAs get no value, and so no class, Gi*, cluster or bivariate class: they are
   *no data* for the statistics (``meta["suppressed"]`` says how many).
3. From the published values only: Getis-Ord Gi* (:func:`geo.stats.getis_ord.getis_ord`, analytic z,
   two-sided normal p), local Moran (:func:`geo.stats.local_moran.local_moran`, conditional
   permutations), bivariate 3x3 classes against the IMD 2025 score
   (:func:`geo.stats.bivariate_classes.bivariate_classes`), and the classes of the chosen scheme
   (:func:`geo.stats.classify.classify`).

Columns of ``MapTable.frame`` (one row per LSOA of the extent, sorted by ``lsoa21cd``):

``lsoa21cd``, ``lsoa21nm``, ``ward24cd``, ``ward24nm``, ``lad24cd``, ``lad24nm``   codes and names
``imd_score``, ``imd_decile``, ``imd_quintile``, ``imd_decile_in_icb``, ``imd_quintile_in_icb``,
``imd_decile_in_lad``, ``imd_quintile_in_lad``  IMD 2025 (deciles: 1 = most deprived)
``core20``            True in national IMD deciles 1-2
``urban_rural``       RUC 2021 urban or rural
``value``             the indicator (datasets: crude rate per 1,000 from the published count)
``lower``, ``upper``  datasets: its 95% interval (PHE: exact Poisson under 10, Byar's above)
``count``             datasets: the published count (rounded; missing where suppressed)
``population``        datasets: the denominator (mid-2020 estimate or supplied with the data)
``suppressed``        datasets: True where the count is suppressed
``class``             0-based class of ``value`` (-1: no data or suppressed)
``class_label``       the class in words ("12.3 to 25.0", "No data", "Suppressed (1 to 7 events)")
``gi_z``, ``gi_p``, ``gi_bin``, ``gi_spot``  Gi* z, p-value, bin (-3..3; missing without a value) and its words
``lisa_cluster``, ``lisa_p``                 local Moran cluster and pseudo p-value
``bivariate_class``   "d-a" (deprivation-activity, 1 low .. 3 high); missing without both values
``smoothed``          datasets of rates: the spatial empirical Bayes rate (:mod:`geo.rates.smoothing`), every
                      LSOA, a hidden count counting as the middle of its hidden range (``meta["smoothed"]``)
``eb_standardised``   datasets of rates: the Empirical Bayes standardised rate (Assuncao and Reis 1999)
``gi_eb_z``, ``gi_eb_bin``, ``gi_eb_spot``  Gi* of ``eb_standardised``: the smoothed view's hot spots
``ward_value``        datasets: the LSOA's ward's published figure (:func:`group_table` by ward; missing
                      where the ward's total is hidden; ``meta["ward_values"]``)

``MapTable.meta`` holds the indicator, extent, classification, method, p-value convention,
disclosure rule, what was suppressed, the synthetic flag, measure, unit, period, attribution and
licence. Group figures (wards, places, IMD quintiles, ethnic groups, age bands, sex, periods)
come from :func:`group_table`, which publishes every cell before anything is computed from it
(:mod:`geo.views.group_statistics`).

Results are cached (bounded LRU, in entries and bytes, and with every other cache of the service
by the one budget ``GAPMAP_CACHE_MB``, :mod:`geo.views.cache_budget`) under a key built only from validated
inputs: store build id, dataset version, indicator, extent, statistic options, and (for the
classes) scheme and k. Identical concurrent cold requests are coalesced: the first computes, the
others wait for its result. ``COMPUTED`` counts what was computed (for tests and benchmarks).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo import ATTRIBUTION
from geo.errors import Unavailable
from geo.views import analysis
from geo.views.cache_budget import BUDGET, CacheBudget, LruEntries
from geo.views.process_memory import trim
from geo.stats.classify import Classes, classify
from geo.rates.disclosure import Rule
from geo.store.folder import Store

LICENCE = "Open Government Licence v3.0"
PERMUTATIONS = 999
SEED = 12345
PERMUTATION_BUDGET = 35_000_000  # permutations x LSOAs: 999 over all of England, 99,999 over 350 LSOAs
CONTEXT = ["urban_rural"]
COMPUTED: Counter = Counter()  # what was computed (not served from the cache), by kind


class MapTableError(analysis.AnalysisError):
    """A request the map table cannot answer, in words for the user (a 400 on the web)."""


# ---- bounded work: a few heavy computations at a time, the rest refused while busy -----------
WORK_SLOTS = int(os.environ.get("GAPMAP_WORK_SLOTS", "2"))  # heavy computations at once (a core each)
WORK_QUEUE = int(os.environ.get("GAPMAP_WORK_QUEUE", "4"))  # requests that may wait for a slot
WORK_WAIT_SECONDS = 30.0
WAIT_FOR_OTHERS_SECONDS = 600.0  # an identical request already being computed (the work itself is bounded)


class ServerBusy(Unavailable):
    """Every slot for heavy work is taken and the queue is full: try again shortly (HTTP 503)."""


class ClientGone(Unavailable):
    """The client of this request has disconnected: stop waiting for work on its behalf."""


_request = threading.local()  # per server thread: how to tell that the request's client has gone


def set_client_check(check=None) -> None:
    """``check()`` is True once the current request's client has disconnected (waitress gives
    ``environ["waitress.client_disconnected"]``); None clears it at the end of the request."""
    _request.client_gone = check


def _wait(lock, seconds: float) -> bool:
    """Acquire ``lock`` within ``seconds``, giving up (:class:`ClientGone`) as soon as the client
    of the request has gone: an abandoned request does not keep a server thread waiting."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if lock.acquire(timeout=max(0.0, min(0.5, left))):
            return True
        check = getattr(_request, "client_gone", None)
        if check is not None and check():
            raise ClientGone("the client has gone")
        if left <= 0.5:
            return False


_slots = threading.BoundedSemaphore(WORK_SLOTS)
_queue_lock = threading.Lock()
_queued = [0]
_held = threading.local()


@contextmanager
def work_slot():
    """Hold one of the WORK_SLOTS while computing something heavy (a cold map table, a map page,
    an England export). At most WORK_QUEUE requests wait for a slot; beyond that, or after
    WORK_WAIT_SECONDS, :class:`ServerBusy`. So heavy requests never hold more than
    WORK_SLOTS + WORK_QUEUE of the server's threads and light ones (warm maps, lists) keep being
    answered. A request whose client has gone stops waiting (:class:`ClientGone`); work already
    started runs to its end and is cached for the next request. Re-entrant within a thread."""
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    got = _slots.acquire(blocking=False)
    if not got:
        with _queue_lock:
            if _queued[0] >= WORK_QUEUE:
                raise ServerBusy("The server is busy making other large maps and tables; please try again in a "
                                 "minute.")
            _queued[0] += 1
        try:
            got = _wait(_slots, WORK_WAIT_SECONDS)
        finally:
            with _queue_lock:
                _queued[0] -= 1
    if not got:
        raise ServerBusy("The server is busy making other large maps and tables; please try again in a minute.")
    _held.depth = 1
    try:
        yield
    finally:
        _held.depth = 0
        _slots.release()


# ---- maps first: the map a user waits for is drawn before the tables beside it -------------------
MAPS_FIRST_SECONDS = 10.0  # the longest the tables of a side panel wait for maps being drawn
_maps = threading.Condition()
_maps_drawing = [0]


@contextmanager
def drawing_map():
    """Held while a map page is drawn cold: side panels wait for it (:func:`after_maps`) before their
    group tables, so that on a server's two cores the map a user is looking at comes first."""
    with _maps:
        _maps_drawing[0] += 1
    try:
        yield
    finally:
        with _maps:
            _maps_drawing[0] -= 1
            _maps.notify_all()


def after_maps(seconds: float = MAPS_FIRST_SECONDS) -> bool:
    """Wait (at most ``seconds``) until no map is being drawn; True when none is."""
    with _maps:
        return _maps.wait_for(lambda: _maps_drawing[0] == 0, timeout=seconds)


# ---- a bounded cache with request coalescing, under the one budget of every cache ---------------
class BoundedCache(LruEntries):
    """LRU cache bounded in entries and in (estimated) bytes, and with every other cache by the one
    budget ``GAPMAP_CACHE_MB`` (:mod:`geo.views.cache_budget`: the least recently used entry of
    any cache goes first); identical concurrent cold requests are coalesced: one thread computes
    (holding a :func:`work_slot`), the others wait for the result."""

    def __init__(self, max_entries: int, max_bytes: int, budget: CacheBudget = BUDGET, name: str = ""):
        super().__init__(max_entries, max_bytes, budget, name)
        self._computing: dict = {}  # key -> threading.Lock held by the computing thread

    def get(self, key, compute, size=None):
        while True:
            with self._lock:
                found, value = self.lookup(key)
                if found:
                    return value
                pending = self._computing.get(key)
                if pending is None:
                    pending = self._computing[key] = threading.Lock()
                    pending.acquire()
                    break
            if not _wait(pending, WAIT_FOR_OTHERS_SECONDS):
                raise ServerBusy("This map is still being made; please try again in a minute.")
            pending.release()  # the thread computing the same key is done: look again
        try:
            with work_slot():
                value = compute()
            self.store(key, value, int(size(value)) if size else 0)
            if not getattr(_held, "depth", 0):  # the outermost heavy work is done: hand back what it freed
                trim()
            return value
        finally:
            with self._lock:
                del self._computing[key]
            pending.release()


def frame_bytes(frame) -> int:
    return int(frame.memory_usage(deep=True).sum()) if len(frame.columns) else 0


STATISTICS_CACHE = BoundedCache(max_entries=32, max_bytes=128 << 20, name="statistics layers")
TABLE_CACHE = BoundedCache(max_entries=64, max_bytes=128 << 20, name="map tables")
GEOMETRY_CACHE = BoundedCache(max_entries=16, max_bytes=128 << 20, name="simplified LSOA polygons")


def clear_caches() -> None:
    from geo.views.group_statistics import CELLS

    for cache in (STATISTICS_CACHE, TABLE_CACHE, GEOMETRY_CACHE, CELLS):
        cache.clear()


# ---- one store build and one dataset version per request ---------------------------------------
class PinnedStore(Store):
    """A store whose build pointer is resolved once (on first use): a build swapped in while a
    request runs is not mixed into it. Tables read without geometry are read once per request (the
    build does not change under it): the values, the ward figures and the group tables of one map
    share one read of the populations; each caller gets its own copy."""

    def __init__(self, store: Store):
        super().__init__(store.root)
        self._identity = store.identity  # the same folder: resolved once, by the store the app holds
        self._pinned = None
        self._reads: dict = {}
        self._reads_lock = threading.Lock()

    @property
    def path(self):
        if self._pinned is None:
            self._pinned = Store.path.fget(self)
        return self._pinned

    def _read(self, name, filters, columns, geometry):
        if geometry:
            return super()._read(name, filters, columns, geometry)
        key = (name, repr(filters), None if columns is None else tuple(columns))
        with self._reads_lock:
            held = self._reads.get(key)
        if held is None:
            held = super()._read(name, filters, columns, geometry)
            with self._reads_lock:
                self._reads[key] = held
        return held.copy()


def pinned(store: Store) -> Store:
    """The folder store with its build pointer fixed for the request (a PostGIS store answers each
    query from its current build, made current in one transaction, so it is used as it is)."""
    if isinstance(store, PinnedStore) or type(store) is not Store:
        return store
    return PinnedStore(store)


@dataclass
class LoadedDataset:
    """One version of a dataset read into memory (duck-types :class:`geo.store.datasets.Dataset`)."""
    name: str
    version: str
    meta: dict
    kind: str
    _counts: pd.DataFrame | None = field(repr=False, default=None)

    def counts(self) -> pd.DataFrame:
        if self._counts is None:
            raise MapTableError(f"dataset {self.name!r} holds GP practice values, not counts per LSOA")
        return self._counts.copy()


def load_dataset(store: Store, name: str) -> LoadedDataset | None:
    """The dataset ``name`` as it is now, read once; None when ``name`` is not a dataset. A
    re-ingest that replaces the version while it is read makes it read the new one."""
    from geo.store.datasets import DatasetError, DatasetStore

    for attempt in range(5):
        try:
            dataset = DatasetStore(store).get(name)
        except DatasetError:
            return None
        try:
            meta = dataset.meta
            kind = dataset.kind
            counts = dataset.counts() if kind == "lsoa" else None
            return LoadedDataset(name, dataset.version, meta, kind, counts)
        except FileNotFoundError:  # replaced by a re-ingest between the link and the files
            time.sleep(0.05 * (attempt + 1))
    raise MapTableError(f"dataset {name!r} is being replaced; try again in a moment")


def dataset_version(store: Store, name: str) -> str | None:
    """The version a dataset name points at now (part of cache keys), or None."""
    from geo.store.datasets import DatasetError, DatasetStore

    try:
        return DatasetStore(store).get(name).version
    except DatasetError:
        return None


def max_permutations(lsoas: int) -> int:
    return max(99, PERMUTATION_BUDGET // max(lsoas, 1))


def check_permutations(permutations: int, lsoas: int) -> None:
    """Refuse a permutation count whose cost is above the budget for this many LSOAs."""
    if not 99 <= permutations <= 99_999:
        raise MapTableError("permutations must be between 99 and 99,999")
    limit = max_permutations(lsoas)
    if permutations > limit:
        raise MapTableError(f"{permutations:,} permutations over {lsoas:,} LSOAs is more work than one request "
                            f"may ask for: use at most {limit:,} here (or a smaller area), or run "
                            f"`gapmap analyse` on your own machine")


# ---- the statistics layer: values after disclosure control, Gi*, local Moran, bivariate --------
@dataclass
class _Layer:
    frame: pd.DataFrame
    meta: dict
    raw_count: np.ndarray | None  # never published: for the secondary suppression of group totals
    rule: Rule | None
    dataset: LoadedDataset | None
    bivariate: object | None
    stat_attrs: dict = field(default_factory=dict)  # method attributes of each statistic, by name


def _values(store: Store, indicator: str, extent: analysis.Extent, dataset: LoadedDataset | None, described=None):
    """The indicator's values with their context; for a dataset, published (``described``: its
    :func:`geo.views.analysis.dataset_definition`), with the raw counts kept apart and the rule."""
    if dataset is not None and dataset.kind != "lsoa":
        raise MapTableError(f"dataset {indicator!r} holds values per GP practice (a Fingertips file), not counts "
                            f"per LSOA, so it cannot colour the LSOA map, its tables or exports: choose an LSOA "
                            f"indicator or a dataset of counts per LSOA")
    frame = analysis.indicator_values(store, indicator, extent, dataset=dataset)
    context = store.lsoas(geometry=False, columns=["lsoa21cd", *CONTEXT], **extent.filters())
    frame = frame.merge(context, on="lsoa21cd", how="left")
    if dataset is None:
        return frame, None, None
    rule = Rule.from_meta(dataset.meta)
    raw = frame["count"].to_numpy(dtype=float)  # kept apart, never published
    return analysis.publish_counts(frame, rule, *described), raw, rule


def _statistics_layer(store: Store, indicator: str, extent: analysis.Extent, dataset: LoadedDataset | None,
                      permutations: int, seed: int) -> _Layer:
    from geo.stats.getis_ord import getis_ord
    from geo.stats.local_moran import local_moran

    COMPUTED["values"] += 1
    described = analysis.dataset_definition(dataset) if dataset is not None else None
    frame, raw, rule = _values(store, indicator, extent, dataset, described)
    meta = {"indicator": indicator, "extent": f"{extent.level} {extent.code or ''}".strip(),
            "attribution": ATTRIBUTION, "licence": LICENCE, "created": dt.date.today().isoformat(),
            "lsoas": int(len(frame))}
    if dataset is not None:
        info = dataset.meta
        hidden = int(frame["suppressed"].sum())
        definition, years, _ = described
        meta.update({"measure": info.get("measure"), "unit": definition.unit, "indicator_definition": definition.describe(),
                     "years": years,
                     "period": (info.get("report") or {}).get("date_range"), "disclosure": rule.describe(),
                     "suppressed": f"{hidden} of {len(frame)} LSOAs have a suppressed count: they are treated as "
                                   f"no data for the classes and every statistic",
                     "synthetic": bool(info.get("synthetic")), "source_file": info.get("source_file"),
                     "dataset_version": dataset.version})
        if info.get("synthetic"):
            meta["warning"] = "SYNTHETIC DATA: made-up records, not real activity."
    else:
        meta["disclosure"] = "Open published data: no disclosure control applies."
        meta["synthetic"] = False
    values = frame["value"].to_numpy(float)
    methods = []
    stat_attrs = {}
    if dataset is not None:
        _smoothed(store, extent, dataset, described[0], frame, meta)
        _ward_values(store, indicator, extent, frame, meta)
    try:
        check_permutations(permutations, len(frame))
        w = analysis.extent_weights(store, extent)
        if list(w.ids) != frame["lsoa21cd"].tolist():
            raise MapTableError("weights and values are not over the same LSOAs")
        COMPUTED["gi-star"] += 1
        gi = getis_ord(values, w, "analytic", permutations, seed)
        COMPUTED["local-moran"] += 1
        lm = local_moran(values, w, permutations, seed)
        frame["gi_z"] = gi["z"].to_numpy()
        frame["gi_p"] = gi["p_value"].to_numpy()
        frame["gi_bin"] = np.where(np.isfinite(values), gi["bin"].to_numpy(float), np.nan)  # no value: no bin
        frame["gi_spot"] = gi["spot"].to_numpy()
        frame["lisa_cluster"] = lm["cluster"].to_numpy()
        frame["lisa_p"] = lm["p_value"].to_numpy()
        # the hot spots of what the smoothed view shows (every LSOA has one)
        if "eb_standardised" in frame and np.isfinite(frame["eb_standardised"].to_numpy(float)).sum() >= 3:
            COMPUTED["gi-star-eb"] += 1
            eb = getis_ord(frame["eb_standardised"].to_numpy(float), w, "analytic", permutations, seed)
            frame["gi_eb_z"] = eb["z"].to_numpy()
            frame["gi_eb_bin"] = np.where(np.isfinite(frame["eb_standardised"].to_numpy(float)),
                                          eb["bin"].to_numpy(float), np.nan)
            frame["gi_eb_spot"] = eb["spot"].to_numpy()
            meta["eb_statistics"] = ("Gi* of the Empirical Bayes standardised rates (Assuncao and Reis 1999, as "
                                     "GeoDa's EB rate statistics), from the published counts with a hidden count as "
                                     "the middle of its hidden range: the hot spots of the smoothed view")
        g, m = gi.attrs, lm.attrs
        weights = analysis.weights_module.describe(w)
        stat_attrs = {"gi-star": {**g, "weights": weights}, "local-moran": {**m, "weights": weights}}
        # the tests used, as the statistics state them (issue 9: the p-value convention on every output)
        methods += [f"Gi* (row-standardised queen weights including the LSOA; bins at 90/95/99% confidence, "
                    f"two-sided as ArcGIS's): {g.get('method')}",
                    f"local Moran (GeoDa's, seed {m.get('seed')}): {m.get('method')}"]
        meta["p_values"] = f"Gi*: {g.get('method')}; local Moran: {m.get('method')}"
        meta["p_value_convention"] = g.get("p_value_convention")
        meta["permutations"], meta["seed"] = m.get("permutations"), m.get("seed")
    except ValueError as exc:  # e.g. values that do not vary, or too few LSOAs with data
        meta["statistics"] = f"not computed: {exc}"
    bivariate = None
    if indicator != "imd_score":
        from geo.stats.bivariate_classes import bivariate_classes

        ok = np.isfinite(values) & np.isfinite(frame["imd_score"].to_numpy(float))
        if ok.sum() >= 3:
            COMPUTED["bivariate"] += 1
            bivariate = bivariate_classes(frame["imd_score"].to_numpy(float), values)
            frame["bivariate_class"] = bivariate.classes.to_numpy()
            methods.append("bivariate 3x3 quantile classes against IMD 2025 score")
            if bivariate.note:
                meta["bivariate"] = bivariate.note
        else:
            meta["bivariate"] = "not computed: fewer than 3 LSOAs have both values"
    meta["method"] = "; ".join(methods) if methods else "no statistics"
    return _Layer(frame, meta, raw, rule, dataset, bivariate, stat_attrs)


def _smoothed(store: Store, extent: analysis.Extent, dataset, definition, frame: pd.DataFrame, meta: dict) -> None:
    """``smoothed``: the spatial empirical Bayes rate of each LSOA (:mod:`geo.rates.smoothing`), from
    the published counts and the person-years at risk, in the definition's unit; a hidden count
    counts as the middle of the hidden range, never as itself. Rates only (not proportions)."""
    from geo.rates.smoothing import spatial_empirical_bayes

    if definition.measure_type != "rate" or "person_years" not in frame:
        return
    try:
        w = analysis.extent_weights(store, extent)
        if list(w.ids) != frame["lsoa21cd"].tolist():
            return
        rule = Rule.from_meta(dataset.meta)
        hidden = frame["suppressed"].to_numpy(bool)
        # a hidden count counts as the middle of the hidden range (4 of 1-7): dropping it would pull every
        # prior towards 0 (the zeros stay), and the value then says only that the count was hidden
        counts = np.where(hidden, (rule.suppress_from + rule.suppress_to) / 2, frame["count"].to_numpy(float))
        rates = spatial_empirical_bayes(counts, frame["person_years"].to_numpy(float), w.neighbour_lists(),
                                        np.isfinite(counts))
    except ValueError as exc:
        meta["smoothed"] = f"not computed: {exc}"
        return
    frame["smoothed"] = rates * definition.multiplier
    from geo.rates.smoothing import eb_standardised

    frame["eb_standardised"] = eb_standardised(counts, frame["person_years"].to_numpy(float), np.isfinite(counts))
    meta["smoothed"] = (f"Smoothed rate ({definition.unit}): spatial empirical Bayes (Marshall 1991, as GeoDa's "
                        f"Spatial Empirical Bayes): each LSOA's rate from its published count shrunk towards the rate "
                        f"of its neighbourhood (queen contiguity), the more so the smaller its population; a count "
                        f"hidden by disclosure control counts as {(rule.suppress_from + rule.suppress_to) / 2:g} (the "
                        f"middle of {rule.suppress_from} to {rule.suppress_to}), so it says nothing more of it")


def _ward_values(store: Store, indicator: str, extent: analysis.Extent, frame: pd.DataFrame, meta: dict) -> None:
    """``ward_value``: each LSOA's ward's published figure (the group path's ward table,
    :func:`group_table`), for rare indicators whose LSOA counts are mostly hidden; none where the
    ward's total is hidden, and none on a ward's own map (one ward: nothing to compare)."""
    if extent.level == "ward":
        return
    try:
        wards = group_table(store, indicator, extent, "ward24cd")
    except ValueError as exc:
        meta["ward_values"] = f"not computed: {exc}"
        return
    if len(wards):
        frame["ward_value"] = frame["ward24cd"].map(wards.set_index("group")["value"])
        rule = wards.attrs.get("note") or "see the disclosure rule"
        meta["ward_values"] = (f"Ward figure ({meta.get('unit')}): each LSOA shows its ward's published rate, from "
                               f"the ward's total after disclosure control ({rule}); hot spots are not computed on "
                               f"ward figures (every LSOA of a ward shares one value): use the smoothed view's hot "
                               f"spots for rare events")


def _layer_size(layer: _Layer) -> int:
    return frame_bytes(layer.frame) + (layer.raw_count.nbytes if layer.raw_count is not None else 0)


def statistics_layer(store: Store, indicator: str, extent: analysis.Extent, permutations: int = PERMUTATIONS,
                     seed: int = SEED) -> _Layer:
    store = pinned(store)
    extent.filters()
    is_column = indicator in analysis.numeric_columns(store)  # an LSOA column wins over a dataset's name
    key = (store.identity, store.build_id(), None if is_column else dataset_version(store, indicator), indicator,
           extent.level, extent.code, int(permutations), int(seed))

    def compute():
        dataset = None if is_column else load_dataset(store, indicator)
        return _statistics_layer(store, indicator, extent, dataset, permutations, seed)

    return STATISTICS_CACHE.get(key, compute, _layer_size)


# ---- the map table: the layer with the classes of the chosen scheme -----------------------------
@dataclass
class MapTable:
    frame: pd.DataFrame
    meta: dict
    classes: Classes
    bivariate: object | None  # geo.stats.bivariate_classes.BivariateClasses (colours and breaks), or None
    scheme: str
    k: int


def map_table(store: Store, indicator: str, extent: analysis.Extent, scheme: str = "quantiles", k: int = 5,
              permutations: int = PERMUTATIONS, seed: int = SEED) -> MapTable:
    """The per-LSOA table of ``indicator`` over ``extent`` (see the module docstring). Raises
    :class:`MapTableError` (a ValueError) for requests that cannot be answered."""
    if indicator.endswith("_decile") or indicator.endswith("_quintile"):
        scheme = "imd_deciles" if indicator.endswith("_decile") else "imd_quintiles"
    store = pinned(store)
    layer = statistics_layer(store, indicator, extent, permutations, seed)
    version = layer.dataset.version if layer.dataset else None
    key = (store.identity, store.build_id(), version, indicator, extent.level, extent.code, int(permutations),
           int(seed), scheme, int(k))
    return TABLE_CACHE.get(key, lambda: _with_classes(layer, scheme, k), lambda t: frame_bytes(t.frame))


def _with_classes(layer: _Layer, scheme: str, k: int) -> MapTable:
    COMPUTED["classes"] += 1
    frame = layer.frame.copy()
    try:
        classes = classify(frame["value"], scheme, k)
    except ValueError as exc:
        raise MapTableError(f"cannot class {layer.meta['indicator']!r} by {scheme}: {exc}") from None
    frame["class"] = classes.classes
    frame["class_label"] = classes.label_of()
    if layer.rule is not None:
        frame.loc[frame["suppressed"].to_numpy(bool), "class_label"] = (
            f"suppressed ({layer.rule.suppress_from} to {layer.rule.suppress_to} events)")
    meta = dict(layer.meta)
    meta["classification"] = (f"{scheme}, {len(classes.labels)} classes: " + "; ".join(classes.labels)
                              + (f" ({classes.note})" if classes.note else ""))
    return MapTable(frame, meta, classes, layer.bivariate, scheme, k)


# ---- other statistics on the published values (/api/statistics) --------------------------------
def statistic(store: Store, indicator: str, extent: analysis.Extent, stat: str, permutations: int = PERMUTATIONS,
              seed: int = SEED):
    """``local-moran`` or ``gi-star`` rows from the map table; ``bivariate`` (bivariate local Moran
    against the IMD 2025 score) and ``moran`` (global) computed on the same published values.
    Returns (rows, method) for local statistics and a dict for ``moran``."""
    layer = statistics_layer(store, indicator, extent, permutations, seed)
    frame = layer.frame.set_index("lsoa21cd")
    check_permutations(permutations, len(frame))
    if "statistics" in layer.meta and stat in ("local-moran", "gi-star"):
        raise MapTableError(f"{stat} {layer.meta['statistics']}")
    values = frame["value"].to_numpy(float)
    base = ["lsoa21nm", "ward24nm", "lad24nm", "value"] + [c for c in ("count", "suppressed") if c in frame]
    method = {k: layer.meta.get(k) for k in ("indicator", "extent", "method", "p_values", "disclosure",
                                             "suppressed", "synthetic", "permutations", "seed") if k in layer.meta}
    if stat in ("gi-star", "local-moran"):
        method = {**layer.stat_attrs[stat], **method}
        columns = ["gi_z", "gi_p", "gi_bin", "gi_spot"] if stat == "gi-star" else ["lisa_cluster", "lisa_p"]
        return frame[base + columns], method
    ok = np.isfinite(values)
    if ok.sum() < 3 or np.nanstd(values) == 0:
        raise MapTableError(f"{stat}: {int(ok.sum())} of {len(values)} LSOAs have a value"
                            + (" and they do not vary" if ok.sum() >= 3 else "")
                            + ": a spatial statistic needs at least 3 LSOAs with values that vary")
    w = analysis.extent_weights(pinned(store), extent)
    try:
        with work_slot():
            return _other_statistic(stat, frame, base, values, w, permutations, seed, method)
    except (ValueError, ZeroDivisionError) as exc:
        raise MapTableError(f"{stat} cannot be computed here: {exc}") from None


def _other_statistic(stat, frame, base, values, w, permutations, seed, method):
    """Global Moran or bivariate local Moran on the published values (not cached: bounded by the
    permutation budget and a work slot)."""
    if stat == "moran":
        from geo.stats.moran import moran

        COMPUTED["moran"] += 1
        return {**moran(values, w, permutations, seed), **method}
    if stat == "bivariate":
        from geo.stats.bivariate_moran import bivariate_moran

        COMPUTED["bivariate-moran"] += 1
        out = bivariate_moran(frame["imd_score"].to_numpy(float), values, w, permutations, seed)
        return frame[base].join(out.drop(columns=["value"], errors="ignore")), {**method, **out.attrs}
    raise MapTableError(f"unknown statistic {stat!r}: local-moran, gi-star, bivariate or moran")


# ---- totals over groups of LSOAs: the one group path -----------------------------------------
def group_table(store: Store, indicator: str, extent: analysis.Extent, grouping: str, confidence: float = 0.95,
                period: str | None = None, known_ethnicity_only: bool = False) -> pd.DataFrame:
    """Counts, rates or proportions of a dataset by ``grouping`` (ward24cd, lad24cd, imd_quintile,
    ..., ethnic_group, age_band, sex, extent), published from disclosure-controlled cells by
    :func:`geo.views.group_statistics.group_table` (which every consumer reaches through here),
    for the dataset version read once for the request; cached per store build and dataset
    version. Returns a copy the caller may change."""
    from geo.views import group_statistics

    store = pinned(store)
    extent.filters()
    if indicator in analysis.numeric_columns(store):
        raise MapTableError(f"{indicator!r} is not an activity dataset: it has no counts to total")
    version = dataset_version(store, indicator)
    if version is None:
        raise MapTableError(f"{indicator!r} is not an activity dataset: it has no counts to total")
    key = ("groups", store.identity, store.build_id(), version, indicator, extent.level, extent.code, grouping,
           float(confidence), period, bool(known_ethnicity_only))

    def compute():
        dataset = load_dataset(store, indicator)
        if dataset is None:
            raise MapTableError(f"{indicator!r} is not an activity dataset: it has no counts to total")
        if dataset.kind != "lsoa":
            raise MapTableError(f"dataset {indicator!r} holds values per GP practice, not counts per LSOA")
        return group_statistics.group_table(store, dataset, extent, grouping, confidence, period,
                                            known_ethnicity_only)

    return TABLE_CACHE.get(key, compute, frame_bytes).copy()


# ---- GP practices of a practice-level dataset, as points ---------------------------------------
def practice_points(store: Store, indicator: str, extent: analysis.Extent):
    """The GP practices of a practice-level dataset whose surgery is in the extent (a GeoDataFrame,
    WGS84): ``practice_code``, ``practice_name``, ``numerator`` and ``denominator`` as published
    (the dataset's rule: 1-7 hidden, others rounded), ``value`` from them in the definition's unit,
    ``suppressed``, ``imd_quintile`` (of the practice's registered patients) and ``geometry``;
    None when the dataset is not practice data. Practices not located have no point and are counted
    in ``attrs["not_located"]``."""
    from geo.rates.disclosure import protect_counts, suppressed
    from geo.store.datasets import DatasetError, DatasetStore

    try:
        dataset = DatasetStore(store).get(indicator)
    except DatasetError:
        return None
    if dataset.meta.get("level") != "practice":
        return None
    definition, _, _ = analysis.dataset_definition(dataset)
    rule = Rule.from_meta(dataset.meta)
    points = dataset.practices()
    if extent.level != "england":
        inside = set(store.lsoas(geometry=False, columns=["lsoa21cd"], **extent.filters())["lsoa21cd"])
        points = points[points["lsoa21cd"].isin(inside)]
    points = points.copy()
    hide = suppressed(points["numerator"].to_numpy(float), rule) | suppressed(points["denominator"].to_numpy(float),
                                                                             rule)
    points["numerator"] = protect_counts(points["numerator"].to_numpy(float), rule)
    points["denominator"] = protect_counts(points["denominator"].to_numpy(float), rule)
    ok = ~hide & (points["denominator"].to_numpy(float) > 0)
    points["value"] = np.where(ok, np.minimum(points["numerator"], points["denominator"]) /
                               np.where(ok, points["denominator"], 1) * definition.multiplier, np.nan)
    points["suppressed"] = hide
    located = points[points.geometry.notna() & ~points.geometry.is_empty] if len(points) else points
    out = located[["practice_code", "practice_name", "numerator", "denominator", "value", "suppressed",
                   "imd_quintile", "geometry"]].to_crs(4326)
    out.attrs.update({"unit": definition.unit, "not_located": int(len(points) - len(located)),
                      "synthetic": bool(dataset.meta.get("synthetic"))})
    return out


# ---- geometry, simplified per level and cached ---------------------------------------------------
def lsoa_geometry(store: Store, extent: analysis.Extent, simplified: bool = True):
    """LSOA polygons of the extent (GeoDataFrame: lsoa21cd, geometry; sorted by code), simplified
    as one coverage for the map's zoom (cached) or full (exports, not cached)."""
    store = pinned(store)

    def read():
        if simplified:  # simplified at build, when the build kept them
            from geo.views.map_geometry import DECIMALS

            kept = getattr(store, "simplified_lsoas", lambda *a, **k: None)(extent.level, **extent.filters())
            if kept is not None:
                kept.attrs["decimals"] = DECIMALS[extent.level]
                return kept
        frame = store.lsoas(columns=["lsoa21cd"], geometry=True, **extent.filters())
        frame = frame.sort_values("lsoa21cd").reset_index(drop=True)
        if simplified:
            from geo.views.map_geometry import simplify

            frame = simplify(frame, extent.level)
        return frame

    if not simplified:
        return read()
    import shapely

    key = (store.identity, store.build_id(), extent.level, extent.code)
    return GEOMETRY_CACHE.get(key, read, lambda f: 16 * int(shapely.get_num_coordinates(f.geometry.values).sum()))


def with_geometry(table: MapTable, store: Store, extent: analysis.Extent, simplified: bool):
    """The map table's frame as a GeoDataFrame (WGS84)."""
    import geopandas as gpd

    geometry = lsoa_geometry(store, extent, simplified)
    frame = table.frame.merge(geometry, on="lsoa21cd", how="left")
    out = gpd.GeoDataFrame(frame, geometry="geometry", crs=geometry.crs)
    out.attrs.update(geometry.attrs)
    return out


def with_wkb(table: MapTable, store: Store, extent: analysis.Extent) -> pd.DataFrame:
    """The map table's frame with each LSOA's full polygon as the store keeps it (WKB bytes, not
    decoded; ``attrs["crs"]``), for a GeoPackage; a store that cannot give WKB gives it encoded."""
    reader = getattr(store, "lsoas_wkb", None)
    if reader is not None:
        wkb = reader(**extent.filters())
    else:
        import shapely

        full = lsoa_geometry(store, extent, simplified=False)
        wkb = pd.DataFrame({"lsoa21cd": full["lsoa21cd"], "geometry": shapely.to_wkb(full.geometry.values)})
        wkb.attrs["crs"] = full.crs.to_string()
    frame = table.frame.merge(wkb, on="lsoa21cd", how="left")
    frame.attrs["crs"] = wkb.attrs["crs"]
    return frame


def json_rows(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts (missing values as null)."""
    return json.loads(frame.to_json(orient="records", double_precision=6))
