"""A built store as one file, to carry to a machine that cannot download the sources.

A pack is a tar archive (``.tar``, optionally gzip-compressed) whose first member is
``gapmap-pack.json``, the pack's manifest:

``format``, ``version``, ``gapmap_version``
    ``"gapmap-store-pack"``, ``1``, and the version of Gapmap that made the pack.
``build_id``, ``built_at``, ``scope``, ``counts``, ``attribution``
    Copied from the build's own manifest, so a pack says what it holds before it is unpacked.
``datasets``
    Names of the activity datasets included (none unless asked for: they may hold health data).
``files``
    Every other member: ``{"build/<file>" | "datasets/<name>/<file>": {"sha256": …, "size": …}}``.

:func:`unpack` reads the pack once, from start to end, writing each member into a new build
folder beside the store's current one while computing its SHA-256; only when every member of
the manifest has arrived with its size and checksum does it make the build current (the store's
atomic swap, :meth:`geo.store.StoreWriter.commit`) and install the datasets. A truncated,
corrupt or partial pack, a member the manifest does not list, or a path that would land outside
the store (absolute, ``..``, links) is refused with a message saying which, and the store is
left as it was.

Before anything is installed a pack must also be *complete* and *of a sane size*:

* its manifest lists every table a store holds (:data:`geo.store.folder.REQUIRED_TABLES`);
  a pack without one is refused, naming the missing tables;
* sizes are checked from the tar headers before a byte of the member is read: the manifest and
  any dataset ``meta.json`` at most ``GAPMAP_MAX_PACK_MANIFEST_MB`` (16), every other file at
  most ``GAPMAP_MAX_PACK_FILE_MB`` (4096) and exactly the size its manifest entry gives; long-name
  and pax headers at most 1 MB (so no member can make Gapmap decompress gigabytes to parse it);
* a packed dataset's ``meta.json`` may not weaken disclosure control below the server's floor
  (the HES rule: counts 1-7 suppressed, others rounded to 5): such a pack is refused, saying which
  dataset asks for what.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
import uuid
import zlib
from pathlib import Path, PurePosixPath

from geo import settings
from geo.sources.write_aside import write_aside
from geo.store.folder import REQUIRED_TABLES, Store, StoreError

PACK_FORMAT = "gapmap-store-pack"
PACK_VERSION = 1
MANIFEST_NAME = "gapmap-pack.json"
_CHUNK = 1 << 20
HEADER_LIMIT = 1 << 20  # a member's long name or pax header


class _CheckedHeader(tarfile.TarInfo):
    """Tar headers whose long-name and pax extensions are refused over HEADER_LIMIT before
    tarfile reads them into memory."""

    def _proc_gnulong(self, tarfile_):
        _header_fits(self)
        return super()._proc_gnulong(tarfile_)

    def _proc_pax(self, tarfile_):
        _header_fits(self)
        return super()._proc_pax(tarfile_)


def _header_fits(info: tarfile.TarInfo) -> None:
    if info.size > HEADER_LIMIT:
        raise PackError(f"a member's tar header extension is {info.size:,} bytes (at most {HEADER_LIMIT:,}): "
                        f"not a Gapmap store pack")


class PackError(StoreError):
    """A store pack cannot be written or is not whole."""


def _hash(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _files_under(folder: Path, prefix: str) -> list[tuple[str, Path]]:
    out = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out.append((f"{prefix}/{path.relative_to(folder).as_posix()}", path))
    return out


def _gapmap_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gapmap")
    except PackageNotFoundError:
        return "unknown"


def pack(store: Store, out: Path, datasets: bool = False) -> dict:
    """Write the store's current build (and its datasets when ``datasets``) to ``out``.

    Returns the pack's manifest. The file is written aside and moved into place when complete.
    """
    build = store.path  # raises StoreError saying how to build when there is none
    meta = store.manifest()
    members = _files_under(build, "build")
    names: list[str] = []
    if datasets:
        from geo.store.datasets import DatasetStore

        held = DatasetStore(store)
        for name in held.names():
            names.append(name)
            members += _files_under(held.get(name).path, f"datasets/{name}")
    files = {}
    for arcname, path in members:
        digest, size = _hash(path)
        files[arcname] = {"sha256": digest, "size": size}
    manifest = {
        "format": PACK_FORMAT, "version": PACK_VERSION,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "gapmap_version": _gapmap_version(),
        "build_id": meta.get("build_id"), "built_at": meta.get("built_at"), "scope": meta.get("scope"),
        "counts": meta.get("counts"), "attribution": meta.get("attribution"),
        "datasets": names, "files": files,
    }
    out = Path(out)
    mode = "w:gz" if out.name.endswith((".tar.gz", ".tgz")) else "w"

    def write(tmp: Path) -> None:  # created afresh by tarfile: an ordinary file, as the umask says
        with tarfile.open(tmp, mode, format=tarfile.PAX_FORMAT) as tar:
            body = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST_NAME)
            info.size, info.mtime = len(body), int(time.time())
            tar.addfile(info, io.BytesIO(body))
            for arcname, path in members:
                tar.add(path, arcname=arcname, recursive=False)

    write_aside(out, write)
    return manifest


def _open(path: Path) -> tarfile.TarFile:
    path = Path(path)
    if not path.is_file():
        raise PackError(f"{path}: no such file")
    try:
        return tarfile.open(path, "r:*", tarinfo=_CheckedHeader)
    except PackError as exc:
        raise PackError(f"{path}: {exc}") from None
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise PackError(f"{path}: not a Gapmap store pack (not a tar archive: {exc}). "
                        f"Make one with `gapmap data pack` on a machine that has a built store.") from None


def _read_manifest(path: Path, tar: tarfile.TarFile) -> dict:
    try:
        first = tar.next()
    except PackError as exc:
        raise PackError(f"{path}: {exc}") from None
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise PackError(f"{path}: the pack is damaged ({exc})") from None
    if first is None or first.name != MANIFEST_NAME or not first.isfile():
        raise PackError(f"{path}: not a Gapmap store pack (it does not start with {MANIFEST_NAME})")
    limit = settings.pack_manifest_limit()
    if first.size > limit:  # from the header: nothing is decompressed or parsed
        raise PackError(f"{path}: the pack's {MANIFEST_NAME} is {first.size / 1e6:,.1f} MB, more than the "
                        f"{limit / 1e6:g} MB a manifest may be (GAPMAP_MAX_PACK_MANIFEST_MB): not a pack "
                        f"Gapmap made; nothing was read or installed")
    try:
        manifest = json.loads(tar.extractfile(first).read())
    except (ValueError, tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise PackError(f"{path}: the pack's {MANIFEST_NAME} cannot be read ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != PACK_FORMAT:
        raise PackError(f"{path}: not a Gapmap store pack ({MANIFEST_NAME} does not say format {PACK_FORMAT!r})")
    if manifest.get("version") != PACK_VERSION:
        raise PackError(f"{path}: pack version {manifest.get('version')!r}; this Gapmap reads version {PACK_VERSION}")
    if not isinstance(manifest.get("files"), dict) or not any(n.startswith("build/") for n in manifest["files"]):
        raise PackError(f"{path}: the pack's {MANIFEST_NAME} lists no build files")
    _check_complete(path, manifest)
    _check_sizes(path, manifest)
    return manifest


def _check_complete(path: Path, manifest: dict) -> None:
    """Refuse a pack whose manifest lacks a table every store holds (it would install as current
    and then fail on every page)."""
    missing = [t for t in REQUIRED_TABLES if f"build/{t}.parquet" not in manifest["files"]]
    if "build/manifest.json" not in manifest["files"]:
        missing.append("manifest.json")
    if missing:
        raise PackError(f"{path}: the pack is incomplete: it lacks {len(missing)} of the tables every Gapmap "
                        f"store holds ({', '.join(missing)}); make the pack again from a complete build. "
                        f"Nothing was installed: the store in use is unchanged")


def _check_sizes(path: Path, manifest: dict) -> None:
    """Refuse a manifest that declares a file larger than a pack may hold."""
    limit = settings.pack_file_limit()
    for name, entry in manifest["files"].items():
        size = entry.get("size") if isinstance(entry, dict) else None
        if not isinstance(size, int) or size < 0:
            raise PackError(f"{path}: the pack's {MANIFEST_NAME} gives no size for {name!r}")
        cap = settings.pack_manifest_limit() if _is_meta(name) else limit
        if size > cap:
            raise PackError(f"{path}: {name} is {size / 1e6:,.1f} MB, more than the {cap / 1e6:g} MB a file "
                            f"in a pack may be ({'GAPMAP_MAX_PACK_MANIFEST_MB' if _is_meta(name) else 'GAPMAP_MAX_PACK_FILE_MB'}); "
                            f"nothing was installed")


def _is_meta(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return len(parts) == 3 and parts[0] == "datasets" and parts[2] == "meta.json"


def _disclosure_floor():
    """The weakest disclosure rule this server accepts (GAPMAP_MIN_SUPPRESS, GAPMAP_MIN_ROUND)."""
    from geo.rates.disclosure import Rule

    return Rule.floor()


def _check_disclosure(path: Path, name: str, body: bytes) -> None:
    """Refuse a packed dataset whose meta.json asks for weaker disclosure control than the floor."""
    from geo.rates.disclosure import Rule

    dataset = PurePosixPath(name).parts[1]
    try:
        meta = json.loads(body)
    except ValueError as exc:
        raise PackError(f"{path}: {name} cannot be read ({exc}); the pack is damaged") from None
    floor = _disclosure_floor()
    given = meta.get("disclosure") if isinstance(meta, dict) else None
    if given in (None, {}):
        return
    try:  # the values asked for (Rule.from_meta would lift them to the floor: a pack asking less is refused)
        if not isinstance(given, dict):
            raise TypeError
        asked = Rule(**{k: int(v) for k, v in given.items() if k in ("suppress_from", "suppress_to", "round_to")})
    except (TypeError, ValueError):
        asked = None
    if asked is None or asked.suppress_from > floor.suppress_from or asked.suppress_to < floor.suppress_to \
            or asked.round_to < floor.round_to:
        raise PackError(f"{path}: the dataset {dataset!r} in the pack asks for weaker disclosure control "
                        f"({json.dumps(given)}) than this server allows (counts {floor.suppress_from} to "
                        f"{floor.suppress_to} suppressed, others rounded to {floor.round_to}); nothing was "
                        f"installed. Make the pack without it, or ingest the dataset again with the default rule")


def read_manifest(path: Path) -> dict:
    """The manifest of the pack at ``path`` (reads only its first member)."""
    with _open(path) as tar:
        return _read_manifest(Path(path), tar)


def _safe_parts(path: Path, name: str) -> tuple[str, ...]:
    """The parts of a member's path, refusing anything that could land outside its folder."""
    from geo.store.datasets import DatasetError, check_name

    pure = PurePosixPath(name)
    if pure.is_absolute() or "\\" in name or any(p in ("..", "") for p in pure.parts) or len(pure.parts) < 2:
        raise PackError(f"{path}: refused: the member {name!r} would be written outside the store")
    if pure.parts[0] == "datasets":
        try:
            check_name(pure.parts[1])
        except DatasetError:
            raise PackError(f"{path}: refused: the member {name!r} names no valid dataset") from None
        if len(pure.parts) < 3:
            raise PackError(f"{path}: refused: the member {name!r} is not inside a dataset folder")
    elif pure.parts[0] != "build":
        raise PackError(f"{path}: refused: the member {name!r} is neither build/ nor datasets/")
    return pure.parts


def _stream(path: Path, tar: tarfile.TarFile, expected: dict, target_of) -> None:
    """Read every member after the manifest, checking its path, size and SHA-256 as it is read.

    ``target_of(parts)`` gives the file to write a member to, or None to only check it. Raises
    :class:`PackError` for a truncated, damaged, corrupt or partial pack, and for any member the
    manifest does not list or whose path could land outside the store.
    """
    seen: set[str] = set()
    while True:
        try:
            member = tar.next()
        except PackError as exc:  # a header extension over its limit
            raise PackError(f"{path}: {exc}") from None
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise PackError(f"{path}: the pack is truncated or damaged after {len(seen)} of "
                            f"{len(expected)} files ({exc}); copy it again") from None
        if member is None:
            break
        parts = _safe_parts(path, member.name)
        if member.isdir():
            continue
        if not member.isfile():
            raise PackError(f"{path}: refused: the member {member.name!r} is a link or device, not a file")
        if member.name not in expected:
            raise PackError(f"{path}: the member {member.name!r} is not in the pack's manifest")
        if member.name in seen:
            raise PackError(f"{path}: the member {member.name!r} appears twice")
        if member.size != expected[member.name].get("size"):  # from the header, before a byte is read
            raise PackError(f"{path}: {member.name} is {member.size:,} bytes in the pack but "
                            f"{expected[member.name].get('size')!r} in its manifest (the pack is corrupt; copy it again)")
        target = target_of(parts)
        meta_body = io.BytesIO() if _is_meta(member.name) else None
        digest, size = hashlib.sha256(), 0
        try:
            source = tar.extractfile(member)
            out = None
            if target is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                out = open(target, "wb")
            try:
                for block in iter(lambda: source.read(_CHUNK), b""):
                    digest.update(block)
                    size += len(block)
                    if out is not None:
                        out.write(block)
                    if meta_body is not None:
                        meta_body.write(block)
            finally:
                if out is not None:
                    out.close()
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise PackError(f"{path}: the pack is truncated or damaged in {member.name} ({exc}); "
                            f"copy it again") from None
        want = expected[member.name]
        if size != want.get("size") or digest.hexdigest() != want.get("sha256"):
            raise PackError(f"{path}: {member.name} does not match its checksum in the pack's "
                            f"manifest (the pack is corrupt; copy it again)")
        if meta_body is not None:
            _check_disclosure(path, member.name, meta_body.getvalue())
        seen.add(member.name)
    missing = sorted(set(expected) - seen)
    if missing:
        raise PackError(f"{path}: the pack is partial: {len(missing)} of {len(expected)} files are "
                        f"missing (first: {missing[0]}); copy it again")
    if "build/manifest.json" not in seen:
        raise PackError(f"{path}: the pack holds no build manifest (build/manifest.json)")


def check(path: Path) -> dict:
    """Read the whole pack at ``path`` and check it as :func:`unpack` would, writing nothing."""
    path = Path(path)
    with _open(path) as tar:
        manifest = _read_manifest(path, tar)
        _stream(path, tar, manifest["files"], lambda parts: None)
    return manifest


def unpack(path: Path, store: Store | None = None) -> dict:
    """Install the pack at ``path`` into ``store``; returns the pack's manifest."""
    store = store or Store()
    path = Path(path)
    with _open(path) as tar:
        manifest = _read_manifest(path, tar)
        with store.writer() as writer:
            versions = store.root / "datasets" / ".versions"  # beside where the datasets will go
            versions.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=versions, prefix=".partial-pack-"))

            def target_of(parts: tuple[str, ...]) -> Path:
                if parts[0] == "build":
                    return writer.path.joinpath(*parts[1:])
                return staging.joinpath(parts[1], *parts[2:])

            try:
                _stream(path, tar, manifest["files"], target_of)
                writer.commit()
                _install_datasets(store, staging, manifest.get("datasets") or [])
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _install_datasets(store: Store, staging: Path, names: list[str]) -> None:
    """Move each unpacked dataset into place as :class:`geo.store.datasets.DatasetStore` keeps them."""
    root = store.root / "datasets"
    versions = root / ".versions"
    versions.mkdir(parents=True, exist_ok=True)
    for name in names:
        folder = staging / name
        if not folder.is_dir():
            continue
        version = f"{name}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        final = versions / version
        os.replace(folder, final)
        link = root / name
        old = link.resolve() if link.exists() else None
        tmp_link = root / f".link-{version}"
        os.symlink(Path(".versions") / version, tmp_link)
        os.replace(tmp_link, link)
        if old is not None and old != final:
            shutil.rmtree(old, ignore_errors=True)


def install_from_env(store: Store | None = None) -> dict | None:
    """Install ``$GAPMAP_STORE_PACK`` unless the store already holds its build; returns its manifest."""
    pack_path = settings.store_pack()
    if pack_path is None:
        return None
    store = store or Store()
    manifest = read_manifest(pack_path)
    if store.exists():
        try:
            if store.manifest().get("build_id") == manifest.get("build_id"):
                return None
        except (StoreError, ValueError):
            pass
    return unpack(pack_path, store)


__all__ = ["pack", "unpack", "check", "read_manifest", "install_from_env", "PackError", "MANIFEST_NAME"]
