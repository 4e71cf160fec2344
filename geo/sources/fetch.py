"""Download the official files named in the source catalogue.

Three kinds of download, matching the catalogue's ``method``:

* ``file``: one HTTP GET streamed to disk; a workbook (``sheet`` set) is saved as CSV of that sheet.
* ``zip``: an archive; the catalogue's ``members`` (glob patterns) are extracted.
* ``arcgis``: an ONS Open Geography Portal FeatureServer layer, read page by page through its
  ``/query`` endpoint (``resultOffset``/``resultRecordCount``) until the server stops saying
  ``exceededTransferLimit``; the feature count asked for first must equal the count received.

A ``derived`` source (published in another layout than the catalogued one) is saved as published
under ``downloads/official/<id>/`` (a dated file name is looked for day by day back from today;
ONS's census API is read page by page) and then reshaped into the catalogued layout by
:mod:`geo.sources.official_layouts`, so the build reads downloads exactly as it reads a mirror.

Every request has a timeout and is retried with back-off on connection errors, timeouts and
5xx answers. When no connection can be made at all the error says plainly that the machine
looks offline and how to use a mirror instead. Files are written next to their final place and
moved there only when complete, so an interrupted download never leaves a half file behind.
"""
from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import requests
from tqdm import tqdm

from geo.sources.write_aside import write_aside as _write_aside
from geo.sources.catalogue import Source, SourceError, expected_checksums, sha256_of

USER_AGENT = "gapmap/0.1 (+https://github.com/gapmap; open data loader)"
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 3
DEFAULT_PAGE_SIZE = 2000


class OfflineError(SourceError):
    """No connection could be made to a source's server."""


class DownloadError(SourceError):
    """The server answered, but not with what was asked for."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class FetchResult:
    source: Source
    path: Path | None
    status: str  # downloaded | verified | changed | reshaped | manual | missing | present | absent (optional)
    message: str = ""
    sha256: str = ""


class Downloader:
    """HTTP with timeouts, retries and a progress bar."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES,
                 backoff: float = 0.5, progress: bool | None = None):
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        # tqdm turns itself off when stderr is not a terminal when disable is None
        self.progress_disabled = None if progress is None else not progress
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    def _request(self, url: str, params: dict | None = None, stream: bool = False) -> requests.Response:
        last_error: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.session.get(url, params=params, timeout=self.timeout, stream=stream)
            except requests.ConnectionError as exc:
                last_error = exc
                continue
            except requests.Timeout as exc:
                last_error = exc
                continue
            if response.status_code >= 500:
                last_error = DownloadError(f"{url}: the server answered {response.status_code} {response.reason}")
                response.close()
                continue
            if response.status_code >= 400:
                response.close()
                raise DownloadError(f"{url}: the server answered {response.status_code} {response.reason}",
                                    status=response.status_code)
            return response
        if isinstance(last_error, requests.ConnectionError):
            host = requests.utils.urlparse(url).hostname
            raise OfflineError(
                f"Cannot connect to {host} after {self.retries + 1} tries: this machine looks offline "
                f"(or {host} is down). To work without the internet, install a store pack made on a machine "
                f"that can download (`gapmap data unpack FILE`), or point GAPMAP_MIRROR (or --mirror) at a "
                f"folder holding the official files."
            ) from last_error
        if isinstance(last_error, requests.Timeout):
            raise DownloadError(
                f"{url}: no answer within {self.timeout:g} s after {self.retries + 1} tries"
            ) from last_error
        raise last_error  # a DownloadError for repeated 5xx

    def get_json(self, url: str, params: dict | None = None) -> dict:
        response = self._request(url, params=params)
        try:
            payload = response.json()
        except ValueError as exc:
            raise DownloadError(f"{url}: expected JSON, got {response.headers.get('Content-Type')}") from exc
        if isinstance(payload, dict) and "error" in payload:
            err = payload["error"]
            raise DownloadError(f"{url}: the ArcGIS server refused the query: {err.get('message', err)}")
        return payload

    def download(self, url: str, dest: Path, label: str) -> Path:
        """Stream ``url`` into ``dest`` (written aside, then moved into place)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        response = self._request(url, stream=True)
        total = int(response.headers.get("Content-Length") or 0) or None
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, tqdm(
                total=total, unit="B", unit_scale=True, desc=label, disable=self.progress_disabled
            ) as bar:
                try:
                    for chunk in response.iter_content(chunk_size=1 << 16):
                        out.write(chunk)
                        bar.update(len(chunk))
                except requests.RequestException as exc:
                    raise DownloadError(f"{url}: the connection broke during the download ({exc})") from exc
            if total is not None and os.path.getsize(tmp) != total:
                raise DownloadError(f"{url}: the download stopped early ({os.path.getsize(tmp)} of {total} bytes)")
            os.replace(tmp, dest)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        finally:
            response.close()
        return dest


def arcgis_records(downloader: Downloader, source: Source, geometry: bool) -> list[dict]:
    """All records of an ArcGIS FeatureServer layer, paged.

    Returns GeoJSON features when ``geometry`` is true, else attribute dicts.
    """
    layer_url = source.url.rstrip("/")
    query_url = f"{layer_url}/query"
    info = downloader.get_json(layer_url, {"f": "json"})
    page_size = int(info.get("maxRecordCount") or DEFAULT_PAGE_SIZE)
    count = downloader.get_json(query_url, {"where": source.where, "returnCountOnly": "true", "f": "json"})
    expected = int(count["count"])
    records: list[dict] = []
    with tqdm(total=expected, unit="rows", desc=source.id, disable=downloader.progress_disabled) as bar:
        offset = 0
        while True:
            params = {
                "where": source.where,
                "outFields": "*",
                "resultOffset": offset,
                "resultRecordCount": page_size,
                "orderByFields": info.get("objectIdField") or "FID",
                "f": "geojson" if geometry else "json",
            }
            if geometry:
                params["outSR"] = 4326
            else:
                params["returnGeometry"] = "false"
            page = downloader.get_json(query_url, params)
            features = page.get("features", [])
            if geometry:
                records.extend(features)
            else:
                records.extend(f.get("attributes", {}) for f in features)
            bar.update(len(features))
            offset += len(features)
            exceeded = page.get("exceededTransferLimit") or page.get("properties", {}).get("exceededTransferLimit")
            if not features or not exceeded:
                break
    if len(records) != expected:
        raise DownloadError(
            f"{source.describe()}: the server said {expected} records but sent {len(records)}; "
            f"try again later"
        )
    return records


def _save_arcgis(downloader: Downloader, source: Source, dest: Path) -> Path:
    import geopandas as gpd
    import pandas as pd

    if source.format == "gpkg":
        features = arcgis_records(downloader, source, geometry=True)
        frame = gpd.GeoDataFrame.from_features(features, crs="EPSG:4326")
        layer = Path(source.path).stem
        return _write_aside(dest, lambda tmp: frame.to_file(tmp, layer=layer, driver="GPKG"))
    rows = arcgis_records(downloader, source, geometry=False)
    frame = pd.DataFrame.from_records(rows)
    frame = frame.drop(columns=[c for c in frame.columns if c.upper() in {"FID", "OBJECTID"}], errors="ignore")
    return _write_aside(dest, lambda tmp: frame.to_csv(tmp, index=False))


def _save_sheet_as_csv(workbook: Path, sheet: str, dest: Path) -> Path:
    import pandas as pd

    try:
        frame = pd.read_excel(workbook, sheet_name=sheet, dtype=str)
    except ValueError as exc:
        raise DownloadError(f"{workbook.name}: no sheet called {sheet!r} ({exc})") from exc
    return _write_aside(dest, lambda tmp: frame.to_csv(tmp, index=False))


def _extract_members(archive: Path, patterns: tuple[str, ...], dest_dir: Path, flatten: bool) -> list[Path]:
    written = []
    with zipfile.ZipFile(archive) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        for pattern in patterns:
            matched = [n for n in names if fnmatch.fnmatch(n, pattern) or fnmatch.fnmatch(n, f"*/{pattern}")]
            if not matched:
                raise DownloadError(f"{archive.name}: nothing in the archive matches {pattern!r}")
            for name in matched:
                depth = len(Path(pattern).parts)  # keep as many trailing parts as the pattern has
                relative = Path(name).name if flatten else Path(*Path(name).parts[-depth:])
                target = dest_dir / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(name) as src:
                    _write_aside(target, lambda tmp, src=src: shutil.copyfileobj(src, open(tmp, "wb")))
                written.append(target)
    return written


def _checksum_status(source: Source, root: Path) -> tuple[str, str, str]:
    """Compare files under ``root`` with the catalogued checksums: (status, message, sha256)."""
    expected = expected_checksums(source)
    if not expected:
        return "downloaded", "no reference checksum to compare with", ""
    changed = []
    digest = ""
    for relative, want in expected.items():
        path = root / relative
        if not path.exists():
            changed.append(f"{relative} is missing")
            continue
        digest = sha256_of(path)
        if digest != want:
            changed.append(f"{relative} has SHA-256 {digest[:12]}…, the catalogue expects {want[:12]}…")
    if changed:
        return "changed", "; ".join(changed), digest
    return "verified", "matches the catalogued checksum", digest


def fetch_source(source: Source, downloads: Path, downloader: Downloader | None = None,
                 strict: bool = False) -> FetchResult:
    """Download one source into ``downloads`` (laid out like a mirror)."""
    downloader = downloader or Downloader()
    downloads.mkdir(parents=True, exist_ok=True)
    dest = downloads / source.path
    if source.method == "manual" or not source.url:
        return FetchResult(source, None, "manual",
                           f"no direct download address is catalogued; get it from {source.landing} "
                           f"and save it as {dest}")
    if source.derived:
        return _fetch_and_reshape(source, downloads, downloader)
    if source.method == "arcgis":
        _save_arcgis(downloader, source, dest)
        return FetchResult(source, dest, "downloaded", f"{source.rows or 'all'} records from the FeatureServer")
    if source.method == "zip":
        with tempfile.TemporaryDirectory(dir=downloads) as tmp:
            archive = downloader.download(source.url, Path(tmp) / "archive.zip", source.id)
            target_dir = dest if source.format == "codepoint" else dest.parent
            _extract_members(archive, source.members, target_dir, flatten=source.format != "codepoint")
    elif source.sheet:
        with tempfile.TemporaryDirectory(dir=downloads) as tmp:
            workbook = downloader.download(source.url, Path(tmp) / "workbook.xlsx", source.id)
            _save_sheet_as_csv(workbook, source.sheet, dest)
    else:
        downloader.download(source.url, dest, source.id)
    status, message, digest = _checksum_status(source, downloads)
    if status == "changed" and strict:
        if dest.is_dir():
            shutil.rmtree(dest)
        elif dest.exists():
            dest.unlink()
        raise DownloadError(f"{source.describe()}: {message}. The publisher may have revised the file; "
                            f"run without --strict to accept it.")
    if status == "changed":
        message += " (the publisher may have revised it; columns are still checked when it is read)"
    return FetchResult(source, dest, status, message, digest)


def dated_candidates(source: Source, today: date | None = None) -> list[str]:
    """Addresses to try for a source published under a dated file name, newest first.

    ``official.dated_url`` holds ``{date}``, written with ``official.date_format``; the last
    ``official.look_back_days`` days are tried, then the catalogued ``url``.
    """
    template = source.official.get("dated_url")
    if not template:
        return [source.url]
    today = today or date.today()
    fmt = source.official.get("date_format", "%Y%m%d")
    days = int(source.official.get("look_back_days", 14))
    urls = [template.format(date=(today - timedelta(days=n)).strftime(fmt)) for n in range(days + 1)]
    return urls + ([source.url] if source.url and source.url not in urls else [])


def _fetch_and_reshape(source: Source, downloads: Path, downloader: Downloader) -> FetchResult:
    """Download the official file of a ``derived`` source and write the catalogued layout from it."""
    from geo.sources.official_layouts import reshape

    official = None
    tried = []
    for url in dated_candidates(source):
        target = downloads / "official" / source.id / _file_name_from_url(url)
        try:
            if source.official.get("layout") == "census_observations":
                official = _download_observations(downloader, url, target.with_suffix(".json"))
            else:
                official = downloader.download(url, target, source.id)
            break
        except DownloadError as exc:
            if exc.status != 404 or not source.official.get("dated_url"):
                raise
            tried.append(url)
    if official is None:  # every address answered 404
        raise DownloadError(f"{source.describe()}: the server answered 404 for every dated file name tried "
                            f"({Path(tried[0]).name} back to {Path(tried[-2] if len(tried) > 1 else tried[0]).name}) "
                            f"and for the catalogued address; see {source.landing} for the current file",
                            status=404)
    path = reshape(source, official, downloads)
    note = f" (the newest dated file, {official.name})" if tried or source.official.get("dated_url") else ""
    return FetchResult(source, path, "reshaped",
                       f"read the official file{note} in its published layout and wrote the catalogued one",
                       sha256_of(path))


def _download_observations(downloader: Downloader, url: str, dest: Path) -> Path:
    """ONS's census API answer, every page of it, saved as one JSON document.

    The API says ``total_observations``; where an answer holds fewer (a page, with ``limit`` and
    ``offset``), the next pages are asked for with ``offset`` until all have arrived.
    """
    import json

    payload = downloader.get_json(url)
    observations = list(payload.get("observations") or [])
    total = int(payload.get("total_observations") or len(observations))
    while len(observations) < total:
        page = downloader.get_json(url, {"offset": len(observations), "limit": payload.get("limit") or 500_000})
        more = page.get("observations") or []
        if not more:
            raise DownloadError(f"{url}: the API said {total} observations but stopped after {len(observations)}")
        observations.extend(more)
    payload = {**payload, "observations": observations, "total_observations": total}
    payload.pop("offset", None)
    return _write_aside(dest, lambda tmp: tmp.write_text(json.dumps(payload), encoding="utf-8"))


def verify_mirror_source(source: Source, mirror: Path) -> FetchResult:
    """Check a source in a mirror folder: present, and whether it matches the catalogued checksum."""
    path = mirror / source.path
    if not path.exists():
        if source.optional:
            return FetchResult(source, None, "absent", f"{path} is not in the mirror; it is optional: the build "
                                                       f"goes on without it and says so")
        return FetchResult(source, None, "missing", f"{path} is not in the mirror")
    if not expected_checksums(source):
        return FetchResult(source, path, "present", "in the mirror (no reference checksum to compare with)")
    status, message, digest = _checksum_status(source, mirror)
    return FetchResult(source, path, status, message, digest)


def _file_name_from_url(url: str) -> str:
    name = Path(requests.utils.urlparse(url).path).name
    return name or "download"


__all__ = ["Downloader", "FetchResult", "OfflineError", "DownloadError", "fetch_source",
           "verify_mirror_source", "arcgis_records"]
