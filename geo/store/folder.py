"""The embedded store: one folder of GeoParquet tables, JSON metadata and CSV reports.

Layout::

    <store>/current -> builds/<build id>      symbolic link to the build in use
    <store>/builds/<build id>/manifest.json   what was built, from what, when, with which checks
    <store>/builds/<build id>/<table>.parquet GeoParquet (EPSG:4326) or plain Parquet tables
    <store>/builds/<build id>/reports/*.csv   rows left out or flagged, with reasons

A build is written into ``builds/.partial-<id>`` and only becomes ``current`` when complete,
by an atomic replacement of the link; an interrupted build leaves the previous store in use.
All reading and writing of the store goes through this module (a PostGIS store can take its
place behind the same methods).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from geo.errors import GapmapError
from geo import settings

if TYPE_CHECKING:  # pandas, pyarrow and geopandas are imported where a table is read: `gapmap --help` needs none
    import geopandas as gpd
    import pandas as pd

LEVELS = ("ward", "lad", "icb")
LEFTOVER_AGE_SECONDS = 6 * 3600  # a partial build or ingest older than this is from a process that died
POINT_KINDS = ("schools", "gp_practices", "hospitals")
CODE_COLUMN = {"ward": "ward24cd", "lad": "lad24cd", "icb": "icb24cd"}
POPULATION_BY_SEX_TABLE = "population_by_sex_mid2022"  # written only when the build had the file
SIMPLIFIED_LEVELS = ("ward", "lad", "icb", "england")  # the LSOAs simplified at build for a map of each


def simplified_table_name(level: str) -> str:
    """The table of the LSOA polygons simplified for a map opening at ``level`` (kept since issue 21)."""
    if level not in SIMPLIFIED_LEVELS:
        raise StoreError(f"no simplified LSOAs for {level!r}; choose one of {', '.join(SIMPLIFIED_LEVELS)}")
    return f"lsoas_simplified_{level}"


# the tables (``<name>.parquet`` in a build folder) every complete build holds
REQUIRED_TABLES = ("lsoas", "areas_ward", "areas_lad", "areas_icb", "points_schools", "points_gp_practices",
                   "points_hospitals", "postcodes", "lsoa11_to_lsoa21", "population_mid2020")


class StoreError(GapmapError):
    """The store is missing, incomplete, or asked for something it does not hold."""


def remove_leftover(path: Path) -> None:
    """Remove a folder or link left by a build or ingest that did not finish."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class StoreWriter:
    """Writes one build aside; :meth:`commit` makes it the current one."""

    def __init__(self, store: "Store"):
        self.store = store
        self.build_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self.builds = store.root / "builds"
        self.path = self.builds / f".partial-{self.build_id}"
        self.path.mkdir(parents=True)
        (self.path / "reports").mkdir()

    def table(self, name: str, frame: pd.DataFrame, sort_by: list[str] | None = None) -> None:
        if sort_by:
            frame = frame.sort_values(sort_by, kind="stable").reset_index(drop=True)
        target = self.path / f"{name}.parquet"
        if "geometry" in frame.columns and hasattr(frame, "crs"):  # a GeoDataFrame
            frame.to_parquet(target, index=False, compression="zstd", row_group_size=4096,
                             write_covering_bbox=True)
        else:
            frame.to_parquet(target, index=False, compression="zstd", row_group_size=4096)

    def report(self, name: str, frame: pd.DataFrame) -> None:
        frame.to_csv(self.path / "reports" / f"{name}.csv", index=False)

    def manifest(self, data: dict) -> None:
        data = {"build_id": self.build_id, **data}
        (self.path / "manifest.json").write_text(json.dumps(data, indent=2, default=str))

    def commit(self) -> Path:
        final = self.builds / self.build_id
        os.replace(self.path, final)
        link = self.store.root / "current"
        tmp_link = self.store.root / f".current-{self.build_id}"
        os.symlink(Path("builds") / self.build_id, tmp_link)
        os.replace(tmp_link, link)  # atomic on POSIX
        self.store.prune(keep={self.build_id})
        return final

    def abort(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> "StoreWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


class Store:
    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else settings.store_dir()

    # ---- identity and versions (what caches are keyed on) ---------------------------------
    @property
    def identity(self) -> str:
        """``folder:`` and the store folder's real path (resolved once per Store: caches key on it
        at every request)."""
        identity = self.__dict__.get("_identity")
        if identity is None:
            identity = self.__dict__["_identity"] = f"folder:{self.root.resolve()}"
        return identity

    def __eq__(self, other) -> bool:
        return isinstance(other, Store) and other.identity == self.identity

    def __hash__(self) -> int:
        return hash(self.identity)

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    def location(self) -> str:
        return str(self.path)

    def environment(self) -> dict[str, str]:
        """The settings that open this store in another process (or app)."""
        return {"GAPMAP_STORE": str(self.root)}

    def build_id(self) -> str:
        return self.path.name

    def version_key(self) -> str:
        """The current build id and every dataset's version: it changes whenever a build is made
        current or a dataset is added, replaced or removed (the links point at new folders)."""
        datasets = self.root / "datasets"
        versions = sorted(f"{p.name}={os.readlink(p)}" for p in datasets.iterdir()
                          if p.is_symlink()) if datasets.exists() else []
        return f"{self.build_id()}|{','.join(versions)}"

    # ---- writing -------------------------------------------------------------------------
    def writer(self) -> StoreWriter:
        self.root.mkdir(parents=True, exist_ok=True)
        return StoreWriter(self)

    @contextlib.contextmanager
    def build_lock(self):
        """Held for the whole of a build: a second build of the same store is refused with a message
        (instead of two builds pruning each other's work). The lock is an OS file lock, so a killed
        build never leaves it held."""
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / ".build.lock"
        with open(path, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                raise StoreError(f"Another build of the store at {self.root} is running ({holder}). Wait for it to "
                                 f"finish, then check `gapmap data status`.") from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"process {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
            fh.flush()
            try:
                self.clean_leftovers()
                yield
            finally:
                fh.seek(0)
                fh.truncate()
                fcntl.flock(fh, fcntl.LOCK_UN)

    def clean_leftovers(self, older_than: float = LEFTOVER_AGE_SECONDS) -> list[Path]:
        """Delete partial builds and temporary links left by processes that died (older than
        ``older_than`` seconds, so a running build's work is never touched). Returns what went."""
        cutoff = time.time() - older_than
        gone = []
        candidates = list((self.root / "builds").glob(".partial-*")) + list(self.root.glob(".current-*"))
        for path in candidates:
            try:
                if path.lstat().st_mtime < cutoff:
                    remove_leftover(path)
                    gone.append(path)
            except FileNotFoundError:
                continue
        return gone

    def prune(self, keep: set[str]) -> None:
        """Delete builds other than ``keep`` and the one before it; leftover partial builds too."""
        builds = self.root / "builds"
        finished = sorted(p for p in builds.iterdir() if p.is_dir() and not p.name.startswith("."))
        keep = set(keep) | {p.name for p in finished[-2:]}
        for path in builds.iterdir():
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)

    # ---- reading -------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        link = self.root / "current"
        if not link.exists():
            raise StoreError(f"No Gapmap store at {self.root}. Build one with `gapmap data build` "
                             f"(set GAPMAP_STORE to use another folder).", http_status=503)
        return link.resolve()

    def exists(self) -> bool:
        return (self.root / "current" / "manifest.json").exists()

    def manifest(self) -> dict:
        return json.loads((self.path / "manifest.json").read_text())

    def _file(self, name: str) -> Path:
        path = self.path / f"{name}.parquet"
        if not path.exists():
            raise StoreError(f"The store at {self.root} has no table {name!r}; rebuild it with `gapmap data build`.")
        return path

    def columns(self, name: str) -> list[str]:
        import pyarrow.parquet as pq

        return pq.read_schema(self._file(name)).names

    def column_types(self, name: str) -> dict[str, str]:
        """Arrow type name of each column (the geometry is ``binary``)."""
        import pyarrow.parquet as pq

        return {f.name: str(f.type) for f in pq.read_schema(self._file(name)) if f.name != "bbox"}

    def _read(self, name: str, filters: list | None, columns: list[str] | None, geometry: bool) -> pd.DataFrame:
        path = self._file(name)
        names = [c for c in self.columns(name) if c != "bbox"]  # bbox: GeoParquet covering column
        has_geometry = "geometry" in names
        if columns is not None:
            unknown = [c for c in columns if c not in names]
            if unknown:
                raise StoreError(f"table {name!r} has no column {', '.join(map(repr, unknown))}")
            columns = list(columns) + (["geometry"] if geometry and has_geometry and "geometry" not in columns else [])
        elif geometry and has_geometry:
            columns = names
        else:
            columns = [c for c in names if c != "geometry"]
        if geometry and has_geometry:
            import geopandas as gpd  # imported here: table reads without geometry do not need it

            return gpd.read_parquet(path, columns=columns, filters=filters)
        import pandas as pd

        return pd.read_parquet(path, columns=columns, filters=filters)

    @staticmethod
    def _filters(**codes: str | None) -> list | None:
        filters = [(column, "==", value) for column, value in codes.items() if value]
        return filters or None

    def lsoas(self, icb: str | None = None, lad: str | None = None, ward: str | None = None,
              columns: list[str] | None = None, geometry: bool = True) -> pd.DataFrame:
        """LSOA 2021 rows, optionally of one ICB, LAD or ward."""
        filters = self._filters(icb24cd=icb, lad24cd=lad, ward24cd=ward)
        return self._read("lsoas", filters, columns, geometry)

    def lsoas_wkb(self, icb: str | None = None, lad: str | None = None, ward: str | None = None) -> pd.DataFrame:
        """``lsoa21cd`` and ``geometry`` as the store keeps it (ISO WKB bytes, not decoded), with
        ``attrs["crs"]`` from the GeoParquet metadata: for writers that take WKB as it is (GeoPackage)."""
        import json

        import pyarrow.parquet as pq
        from pyproj import CRS

        path = self._file("lsoas")
        geo = json.loads(pq.read_schema(path).metadata[b"geo"])
        crs = geo["columns"]["geometry"].get("crs")  # PROJJSON; absent means OGC:CRS84 (GeoParquet)
        table = pq.read_table(path, columns=["lsoa21cd", "geometry"],
                              filters=self._filters(icb24cd=icb, lad24cd=lad, ward24cd=ward))
        frame = table.to_pandas()
        frame.attrs["crs"] = CRS.from_user_input(crs if crs is not None else "OGC:CRS84").to_string()
        return frame

    def simplified_lsoas(self, level: str, icb: str | None = None, lad: str | None = None,
                         ward: str | None = None) -> "gpd.GeoDataFrame | None":
        """The LSOAs (lsoa21cd, geometry; sorted by code) simplified at build for a map opening at
        ``level`` (see :mod:`geo.build.simplified`), or None for a build made before they were kept."""
        name = simplified_table_name(level)
        if not (self.path / f"{name}.parquet").exists():
            return None
        frame = self._read(name, self._filters(icb24cd=icb, lad24cd=lad, ward24cd=ward), ["lsoa21cd"], True)
        return frame.sort_values("lsoa21cd").reset_index(drop=True)

    def areas(self, level: str, icb: str | None = None, lad: str | None = None,
              geometry: bool = False) -> pd.DataFrame:
        """Ward, LAD or ICB rows (polygons and summaries); with ``icb``/``lad``, those with LSOAs there."""
        if level not in LEVELS:
            raise StoreError(f"unknown area level {level!r}; choose one of {', '.join(LEVELS)}")
        frame = self._read(f"areas_{level}", None, None, geometry)
        if icb or lad:
            members = self.lsoas(icb=icb, lad=lad, columns=[CODE_COLUMN[level]], geometry=False)
            frame = frame[frame[CODE_COLUMN[level]].isin(set(members[CODE_COLUMN[level]]))]
        return frame.reset_index(drop=True)

    def points(self, kind: str, icb: str | None = None, lad: str | None = None) -> "gpd.GeoDataFrame":
        if kind not in POINT_KINDS:
            raise StoreError(f"unknown point layer {kind!r}; choose one of {', '.join(POINT_KINDS)}")
        frame = self._read(f"points_{kind}", self._filters(lad24cd=lad), None, True)
        if icb:
            members = self.lsoas(icb=icb, columns=["lsoa21cd"], geometry=False)
            frame = frame[frame["lsoa21cd"].isin(set(members["lsoa21cd"]))]
        return frame.reset_index(drop=True)

    def postcodes(self, keys: list[str] | None = None, geometry: bool = True) -> "gpd.GeoDataFrame":
        """Code-Point Open postcodes with their LSOA (missing outside England), by normalised key."""
        filters = [("key", "in", list(keys))] if keys is not None else None
        return self._read("postcodes", filters, None, geometry)

    def lsoa11_to_lsoa21(self) -> pd.DataFrame:
        """ONS's exact-fit lookup with the share of each 2011 LSOA in each 2021 LSOA (``weight``)."""
        return self._read("lsoa11_to_lsoa21", None, None, False)

    def population_by_age(self, icb: str | None = None, lad: str | None = None, ward: str | None = None) -> pd.DataFrame:
        frame = self._read("population_mid2020", None, None, False)
        return self._of_extent(frame, icb, lad, ward)

    def population_by_sex_age(self, icb: str | None = None, lad: str | None = None,
                              ward: str | None = None) -> pd.DataFrame | None:
        """ONS mid-2022 LSOA 2021 population by sex and single year of age, optionally of one ICB, LAD
        or ward: ``lsoa21cd``, ``sex`` ('female' or 'male'), ``age_0`` .. ``age_89``, ``age_90_plus``,
        two rows per LSOA, sorted by LSOA and sex. None when the build had no such file (then
        age-sex standardisation falls back to age; the build's notes and ``populations`` report
        say so)."""
        if not (self.path / f"{POPULATION_BY_SEX_TABLE}.parquet").exists():
            return None
        return self._of_extent(self._read(POPULATION_BY_SEX_TABLE, None, None, False), icb, lad, ward)

    def _of_extent(self, frame: pd.DataFrame, icb: str | None, lad: str | None, ward: str | None) -> pd.DataFrame:
        if icb or lad or ward:
            members = self.lsoas(icb=icb, lad=lad, ward=ward, columns=["lsoa21cd"], geometry=False)
            frame = frame[frame["lsoa21cd"].isin(set(members["lsoa21cd"]))]
        return frame.reset_index(drop=True)

    def queen_links(self) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        """The build's queen contiguity, kept by ``gapmap data build``: ``lsoa_centroids``
        (``lsoa21cd`` sorted, ``x``, ``y`` in metres, EPSG:27700) and ``weights_queen`` (``i``,
        ``j``: row numbers in it of two LSOAs sharing a boundary point, both ways). None for a
        build made before they were kept (weights are then built from the polygons)."""
        try:
            return self._read("lsoa_centroids", None, None, False), self._read("weights_queen", None, None, False)
        except StoreError:
            return None

    def report(self, name: str) -> pd.DataFrame:
        path = self.path / "reports" / f"{name}.csv"
        if not path.exists():
            raise StoreError(f"the store has no report {name!r}")
        import pandas as pd

        return pd.read_csv(path, dtype=str)

    def reports(self) -> list[str]:
        return sorted(p.stem for p in (self.path / "reports").glob("*.csv"))
