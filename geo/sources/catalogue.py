"""The source catalogue: what Gapmap reads, where it comes from, and how to credit it.

The catalogue itself is ``boundaries/sources.toml``; this module turns it into
:class:`Source` records and finds each source's file in a mirror or the downloads folder.
"""
from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from geo.errors import GapmapError
from geo import settings

CATALOGUE_PATH = Path(__file__).resolve().parents[2] / "boundaries" / "sources.toml"


class SourceError(GapmapError):
    """A source file is missing, unreadable or not in the shape the catalogue describes."""


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    publisher: str
    method: str  # file | arcgis | zip | manual
    url: str
    landing: str
    path: str  # relative path inside a mirror or the downloads folder
    format: str  # csv | gpkg | codepoint
    licence: str
    attribution: str
    columns: dict[str, str]  # official column name -> Gapmap's name
    optional_columns: dict[str, str] = field(default_factory=dict)  # read when the file has them
    optional: bool = False  # the build goes on without this source (saying so) when it is absent
    sha256: str = ""
    rows: int | None = None
    where: str = "1=1"
    sheet: str | None = None
    members: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    column_patterns: tuple[str, ...] = ()
    checksums: dict[str, str] = field(default_factory=dict)
    derived: bool = False
    layout_note: str = ""
    layout_confirmed: str = ""  # where the official layout was checked (repository/path or page)
    official: dict = field(default_factory=dict)  # how to read the official file: see geo.sources.official_layouts
    # read by `gapmap ingest` when a user gives the file (e.g. --registrations), never by the build:
    # `gapmap data fetch` and `gapmap data build` do not need it, and no mirror has to hold it
    ingest_only: bool = False

    @classmethod
    def from_entry(cls, entry: dict) -> "Source":
        entry = dict(entry)
        for key in ("members", "column_patterns"):
            entry[key] = tuple(entry.get(key, ()))
        return cls(**entry)

    def describe(self) -> str:
        return f"{self.id} ({self.title})"


def load_catalogue(path: Path | None = None) -> dict[str, Source]:
    """The catalogue at ``path``, else ``$GAPMAP_CATALOGUE``, else ``boundaries/sources.toml``."""
    return _load_catalogue(Path(path) if path is not None else settings.catalogue_path(CATALOGUE_PATH))


@lru_cache(maxsize=4)
def _load_catalogue(path: Path) -> dict[str, Source]:
    with open(path, "rb") as fh:
        entries = tomllib.load(fh)["source"]
    sources = {}
    for entry in entries:
        source = Source.from_entry(entry)
        if source.id in sources:
            raise SourceError(f"{path}: source id {source.id!r} is listed twice")
        sources[source.id] = source
    return sources


def get(source_id: str) -> Source:
    try:
        return load_catalogue()[source_id]
    except KeyError:
        known = ", ".join(sorted(load_catalogue()))
        raise SourceError(f"no source called {source_id!r} in the catalogue; known: {known}") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def expected_checksums(source: Source) -> dict[str, str]:
    """Map of relative file path -> SHA-256 of the reference copy."""
    if source.checksums:
        return {f"{source.path}/{name}": value for name, value in source.checksums.items()}
    return {source.path: source.sha256} if source.sha256 else {}


def locate(source: Source, mirror: Path | None = None, downloads: Path | None = None) -> Path:
    """Where this source's file is: in ``mirror`` when one is given, else in the downloads folder.

    Raises :class:`SourceError` with what to do when it is not there.
    """
    if mirror is None:
        mirror = settings.mirror_dir()
    if mirror is not None:
        candidate = Path(mirror) / source.path
        if candidate.exists():
            return candidate
        raise SourceError(
            f"{source.describe()}: not found in the mirror at {candidate}. "
            f"Check GAPMAP_MIRROR / --mirror, or unset it to use downloaded files."
        )
    downloads = Path(downloads) if downloads is not None else settings.downloads_dir()
    candidate = downloads / source.path
    if candidate.exists():
        return candidate
    raise SourceError(
        f"{source.describe()}: not downloaded yet ({candidate} is missing). "
        f"Run `gapmap data fetch`, or point GAPMAP_MIRROR at a local copy."
    )
