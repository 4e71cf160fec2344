"""Spatial weights for any set of LSOAs: queen or rook contiguity, k nearest neighbours, distance band.

Contiguity is read from the polygons' shared vertices (queen) or shared edges (rook), as GeoDa
and libpysal do; the LSOA polygons are one topologically consistent coverage, so neighbours
share their boundary points exactly. k-nearest and distance-band weights use the polygons'
centroids in British National Grid (metres).

An *island* (an LSOA with no neighbour: an offshore island, or a place cut off by a river
mouth in the generalised boundaries) would have no spatial lag; each is joined to its nearest
LSOA by centroid distance, both ways, and listed in ``islands_joined``.

Weights are binary, then row-standardised (each LSOA's neighbours weigh 1/k); the statistics
modules rely on that. :func:`geo.views.extent_weights.for_extent` reads an extent's LSOAs from the
store and caches its weights, so a place's weights are built once per process.

:class:`StoredQueen` is the queen contiguity of every LSOA of a build before islands are joined,
as ``gapmap data build`` keeps it; its :meth:`StoredQueen.weights` for any subset equals
:func:`build` on the subset's polygons (contiguity of two polygons does not depend on the others;
islands are joined within the subset from the stored centroids).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.spatial import cKDTree

from geo.errors import InvalidValue

KINDS = ("queen", "rook", "knn", "distance")
BNG = 27700


@dataclass(frozen=True)
class Weights:
    """Row-standardised binary spatial weights over ``ids`` (in that order)."""

    ids: tuple[str, ...]
    neighbours: sp.csr_matrix  # binary, symmetric for contiguity, no self-links
    kind: str
    islands_joined: tuple[str, ...] = ()
    params: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def cardinality(self) -> np.ndarray:
        return np.diff(self.neighbours.indptr)

    @property
    def row_standardised(self) -> sp.csr_matrix:
        k = self.cardinality.astype(float)
        return sp.diags(1.0 / np.where(k > 0, k, 1.0)) @ self.neighbours

    def lag(self, values: np.ndarray) -> np.ndarray:
        """Mean of each LSOA's neighbours' values."""
        return self.row_standardised @ np.asarray(values, dtype=float)

    def neighbour_lists(self) -> list[np.ndarray]:
        m = self.neighbours
        return [m.indices[m.indptr[i]:m.indptr[i + 1]] for i in range(self.n)]

    def subset(self, keep: np.ndarray) -> "Weights":
        """The weights among the areas in ``keep`` (a boolean mask), as when some have no value.
        Areas left with no neighbour keep none: their local statistics are undefined."""
        keep = np.asarray(keep, dtype=bool)
        if keep.all():
            return self
        index = np.flatnonzero(keep)
        matrix = self.neighbours[index][:, index].tocsr()
        return Weights(tuple(self.ids[i] for i in index), matrix, self.kind, self.islands_joined, self.params)

    def to_libpysal(self):
        from libpysal.weights import W

        lists = self.neighbour_lists()
        w = W({i: list(map(int, nb)) for i, nb in enumerate(lists)}, silence_warnings=True)
        w.transform = "r"
        return w


def _pairs_to_matrix(a: np.ndarray, b: np.ndarray, n: int) -> sp.csr_matrix:
    keep = a != b
    a, b = a[keep], b[keep]
    data = np.ones(2 * len(a), dtype=np.float64)
    m = sp.csr_matrix((data, (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n))
    m.data[:] = 1.0  # duplicates summed by the constructor: back to binary
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def _shared_groups(keys: np.ndarray, owner: np.ndarray, n: int) -> sp.csr_matrix:
    """Owners that share a key (a vertex or an edge, as int64) become neighbours."""
    _, key_id = np.unique(keys, return_inverse=True)
    pair = np.unique(key_id.astype(np.int64) * n + owner)  # each (key, owner) once, sorted by key
    key_id, owner = np.divmod(pair, n)
    starts = np.flatnonzero(np.r_[True, key_id[1:] != key_id[:-1]])
    sizes = np.diff(np.r_[starts, len(key_id)])
    a_list, b_list = [], []
    for size in np.unique(sizes[sizes > 1]):
        group_starts = starts[sizes == size]
        members = owner[group_starts[:, None] + np.arange(size)]  # (groups, size)
        i, j = np.triu_indices(size, 1)
        a_list.append(members[:, i].ravel())
        b_list.append(members[:, j].ravel())
    if not a_list:
        return sp.csr_matrix((n, n))
    return _pairs_to_matrix(np.concatenate(a_list), np.concatenate(b_list), n)


def _point_keys(coords: np.ndarray) -> np.ndarray:
    """One int64 per point: coordinates to 1e-7 degrees (about 1 cm), packed into 31 bits each."""
    q = np.round(coords * 1e7).astype(np.int64)
    return ((q[:, 0] + (1 << 30)) << 31) | (q[:, 1] + (1 << 30))


def contiguity(geometries: np.ndarray, rook: bool = False) -> sp.csr_matrix:
    """Queen (shared vertex) or rook (shared edge) contiguity of polygons in degrees (EPSG:4326)."""
    n = len(geometries)
    if not rook:
        coords, owner = shapely.get_coordinates(geometries, return_index=True)
        return _shared_groups(_point_keys(coords), owner, n)
    parts = shapely.get_parts(geometries)
    part_owner = np.repeat(np.arange(n), shapely.get_num_geometries(geometries))
    rings = shapely.get_rings(parts)
    ring_owner = np.repeat(part_owner, shapely.get_num_interior_rings(parts) + 1)
    coords, ring_id = shapely.get_coordinates(rings, return_index=True)
    keys = _point_keys(coords)
    same_ring = ring_id[1:] == ring_id[:-1]
    a, b = keys[:-1][same_ring], keys[1:][same_ring]
    lo, hi = np.minimum(a, b), np.maximum(a, b)  # an edge, whichever way it is walked
    _, lo_id = np.unique(lo, return_inverse=True)
    _, edge_key = np.unique(np.stack([lo_id, np.unique(hi, return_inverse=True)[1]], axis=1), axis=0,
                            return_inverse=True)
    return _shared_groups(edge_key.ravel().astype(np.int64), ring_owner[ring_id[1:][same_ring]], n)


def _centroids_bng(geometries: np.ndarray, crs, exact: bool = True) -> np.ndarray:
    """Centroids in metres. ``exact``: of the polygons projected to EPSG:27700; otherwise the
    lon/lat centroids projected (metres apart at most, and far quicker), enough to find a nearest
    neighbour."""
    import geopandas as gpd

    if exact:
        return shapely.get_coordinates(gpd.GeoSeries(geometries, crs=crs).to_crs(BNG).centroid.values)
    points = gpd.GeoSeries(shapely.centroid(np.asarray(geometries, dtype=object)), crs=crs).to_crs(BNG)
    return shapely.get_coordinates(points.values)


def build(lsoas, kind: str = "queen", k: int = 6, distance_m: float | None = None,
          id_column: str = "lsoa21cd") -> Weights:
    """Weights for the LSOAs in ``lsoas`` (a GeoDataFrame in any CRS)."""
    if kind not in KINDS:
        raise InvalidValue(f"unknown weights {kind!r}; choose one of {', '.join(KINDS)}")
    geoms = lsoas.geometry.values
    n = len(geoms)
    ids = tuple(lsoas[id_column].astype(str))
    centroids = None
    if kind in ("queen", "rook"):
        if lsoas.crs is not None and lsoas.crs.to_epsg() != 4326:
            geoms = lsoas.geometry.to_crs(4326).values
        matrix = contiguity(np.asarray(geoms, dtype=object), rook=kind == "rook")
        params = {}
    elif kind == "knn":
        if not 1 <= k < n:
            raise InvalidValue(f"k must be between 1 and {n - 1} for {n} LSOAs")
        centroids = _centroids_bng(geoms, lsoas.crs)
        _, nearest = cKDTree(centroids).query(centroids, k=k + 1)
        rows = np.repeat(np.arange(n), k)
        cols = nearest[:, 1:].ravel()
        matrix = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))  # not symmetric, by design
        params = {"k": k}
    else:
        if not distance_m or distance_m <= 0:
            raise InvalidValue("a distance band needs a positive distance in metres")
        centroids = _centroids_bng(geoms, lsoas.crs)
        pairs = cKDTree(centroids).query_pairs(distance_m, output_type="ndarray")
        matrix = _pairs_to_matrix(pairs[:, 0], pairs[:, 1], n) if len(pairs) else sp.csr_matrix((n, n))
        params = {"distance_m": distance_m}
    if centroids is None:
        def centroids():
            return _centroids_bng(geoms, lsoas.crs, exact=False)
    return _with_islands_joined(ids, matrix, kind, params, centroids)


def _with_islands_joined(ids: tuple, matrix: sp.csr_matrix, kind: str, params: dict, centroids) -> Weights:
    """The weights of ``matrix`` with each island joined to its nearest area by ``centroids`` (an
    (n, 2) array in metres, or a function giving it, called only when there is an island)."""
    n = len(ids)
    lonely = np.flatnonzero(np.diff(matrix.indptr) == 0)
    islands = ()
    if len(lonely) and n > 1:
        points = centroids() if callable(centroids) else centroids
        _, nearest = cKDTree(points).query(points[lonely], k=2)
        joined = _pairs_to_matrix(lonely, nearest[:, 1], n)
        matrix = ((matrix + joined) > 0).astype(np.float64).tocsr()
        islands = tuple(ids[i] for i in lonely)
    return Weights(ids, matrix.tocsr(), kind, islands, params)


@dataclass(frozen=True)
class StoredQueen:
    """Queen contiguity of every LSOA of a build, as ``gapmap data build`` keeps it (no islands
    joined yet: that depends on the extent): ``ids`` sorted, ``neighbours`` binary and symmetric,
    ``centroids`` (n, 2) in metres (EPSG:27700), as :func:`build` finds an island's nearest LSOA."""

    ids: np.ndarray  # str (numpy unicode), sorted
    neighbours: sp.csr_matrix
    centroids: np.ndarray

    @classmethod
    def of(cls, lsoas) -> "StoredQueen":
        """Computed from a GeoDataFrame of LSOA polygons (any CRS, any order)."""
        lsoas = lsoas.sort_values("lsoa21cd").reset_index(drop=True)
        geoms = lsoas.geometry if lsoas.crs is None or lsoas.crs.to_epsg() == 4326 else lsoas.geometry.to_crs(4326)
        geoms = np.asarray(geoms.values, dtype=object)
        return cls(lsoas["lsoa21cd"].to_numpy(dtype=str), contiguity(geoms), _centroids_bng(geoms, 4326, exact=False))

    @classmethod
    def from_links(cls, ids, i, j, x, y) -> "StoredQueen":
        """From the stored tables: ids (sorted), links ``i`` -> ``j`` (row numbers, both ways), centroids."""
        n = len(ids)
        i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
        if len(i) and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= n):
            raise InvalidValue("the stored weights name rows the stored LSOAs do not have: rebuild the store")
        matrix = sp.csr_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        ids = np.asarray(ids, dtype=str)
        if len(ids) > 1 and not (ids[1:] > ids[:-1]).all():
            raise InvalidValue("the stored LSOAs are not in code order: rebuild the store")
        return cls(ids, matrix, np.column_stack([x, y]).astype(np.float64))

    def links(self) -> tuple[np.ndarray, np.ndarray]:
        """(i, j) of every link, both ways, sorted: what the build writes."""
        m = self.neighbours.tocsr()
        m.sort_indices()
        return np.repeat(np.arange(len(self.ids), dtype=np.int32), np.diff(m.indptr)), m.indices.astype(np.int32)

    def weights(self, codes=None) -> Weights:
        """Queen weights over ``codes`` (any subset of ``ids``, sorted; all when None), islands of the
        subset joined to their nearest LSOA in it: equal to :func:`build` on those LSOAs' polygons."""
        if codes is None:
            index = np.arange(len(self.ids))
        else:
            codes = np.asarray(codes, dtype=str)
            index = np.minimum(np.searchsorted(self.ids, codes), len(self.ids) - 1)  # ids are sorted
            if len(codes) and not (self.ids[index] == codes).all():
                raise InvalidValue("LSOAs without stored weights were asked for: rebuild the store")
        matrix = self.neighbours[index][:, index].tocsr() if codes is not None else self.neighbours.tocsr()
        matrix.sort_indices()
        ids = tuple(self.ids[index].tolist())
        return _with_islands_joined(ids, matrix, "queen", {}, self.centroids[index])



def describe(weights: Weights) -> dict:
    k = weights.cardinality
    return {"kind": weights.kind, **weights.params, "lsoas": weights.n, "links": int(weights.neighbours.nnz),
            "min_neighbours": int(k.min()) if len(k) else 0, "max_neighbours": int(k.max()) if len(k) else 0,
            "mean_neighbours": float(k.mean()) if len(k) else 0.0, "islands_joined": list(weights.islands_joined)}


__all__ = ["Weights", "StoredQueen", "build", "describe", "contiguity"]
