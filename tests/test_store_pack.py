"""Store packs: one file that carries a built store to a machine that cannot download, refused
whole when it is truncated, corrupt, partial, not a pack, or would write outside the store."""
import io
import json
import tarfile

import pandas as pd
import pytest
from click.testing import CliRunner

from geo.build.pipeline import build
from geo.cli import main
from geo.store.datasets import DatasetStore
from geo.store.folder import Store
from geo.store.pack import MANIFEST_NAME, PackError, check, pack, read_manifest, unpack


@pytest.fixture
def built(fixture_mirror, tmp_path):
    store = Store(tmp_path / "source-store")
    build(store, mirror=fixture_mirror)
    return store


def _contents(store: Store) -> dict[str, bytes]:
    folder = store.path
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _rewrite(source, target, change=None, drop=(), add=()):
    """Copy a pack member by member, changing a member's bytes, dropping members or adding some."""
    with tarfile.open(source) as src, tarfile.open(target, "w") as out:
        for member in src:
            if member.name in drop:
                continue
            data = src.extractfile(member).read() if member.isfile() else None
            if change and member.name in change:
                data = change[member.name](data)
                member.size = len(data)
            out.addfile(member, io.BytesIO(data) if data is not None else None)
        for info, data in add:
            out.addfile(info, io.BytesIO(data) if data is not None else None)
    return target


def _rewritten(path, target, manifest: dict, leave_out=frozenset(), members: dict[str, bytes] | None = None,
               extra: list = ()):
    """A copy of the pack at ``path`` with ``manifest`` first, without the members ``leave_out``,
    and with ``members`` (name -> bytes) and the bare tar entries ``extra`` added at the end."""
    body = json.dumps(manifest).encode()
    with tarfile.open(path) as src, tarfile.open(target, "w") as out:
        head = tarfile.TarInfo(MANIFEST_NAME)
        head.size = len(body)
        out.addfile(head, io.BytesIO(body))
        for member in src:
            if member.name != MANIFEST_NAME and member.name not in leave_out:
                out.addfile(member, src.extractfile(member))
        for name, data in (members or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
        for info in extra:
            out.addfile(info)
    return target


def _with_manifest(path, target, members: dict[str, bytes], extra: list = ()):
    """A pack whose manifest lists ``members`` correctly (so only the path checks can refuse it)."""
    import hashlib
    manifest = read_manifest(path)
    for name, data in members.items():
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    return _rewritten(path, target, manifest, members=members, extra=extra)


def test_pack_unpacks_to_the_same_store(built, tmp_path):
    manifest = pack(built, tmp_path / "store.tar")
    assert manifest["build_id"] == built.manifest()["build_id"] and manifest["datasets"] == []
    assert read_manifest(tmp_path / "store.tar")["counts"]["lsoas"] == 8
    fresh = Store(tmp_path / "fresh")
    unpack(tmp_path / "store.tar", fresh)
    assert _contents(fresh) == _contents(built)
    pd.testing.assert_frame_equal(fresh.lsoas(), built.lsoas())
    assert fresh.manifest() == built.manifest()


def test_datasets_only_when_asked_for(built, tmp_path):
    counts = pd.DataFrame({"lsoa21cd": ["E01000001"], "count": [3]})
    DatasetStore(built).save("ae-test", {"measure": "A&E attendances"}, pd.DataFrame({"row": []}), counts=counts)
    assert pack(built, tmp_path / "plain.tar")["datasets"] == []
    pack(built, tmp_path / "with.tar.gz", datasets=True)
    fresh = Store(tmp_path / "fresh")
    unpack(tmp_path / "with.tar.gz", fresh)
    held = DatasetStore(fresh)
    assert held.names() == ["ae-test"] and held.get("ae-test").meta["measure"] == "A&E attendances"
    pd.testing.assert_frame_equal(pd.read_parquet(held.get("ae-test").path / "counts.parquet"), counts)


@pytest.fixture
def packed(built, tmp_path):
    pack(built, tmp_path / "store.tar")
    return tmp_path / "store.tar"


@pytest.fixture
def target(fixture_mirror, tmp_path):
    """A store that already holds a build, which a refused pack must leave in use."""
    store = Store(tmp_path / "target")
    build(store, mirror=fixture_mirror, lad="E06000001")
    return store


def _refused(path, store, match):
    before = (store.manifest()["build_id"], sorted(p.name for p in (store.root / "builds").iterdir()))
    with pytest.raises(PackError, match=match):
        check(path)  # checking alone finds the same fault
    with pytest.raises(PackError, match=match):
        unpack(path, store)
    after = (store.manifest()["build_id"], sorted(p.name for p in (store.root / "builds").iterdir()))
    assert after == before  # nothing changed, nothing left behind
    assert not [p for p in (store.root / "datasets" / ".versions").glob(".partial*")]


def test_bad_checksum_refused(packed, target, tmp_path):
    bad = _rewrite(packed, tmp_path / "bad.tar", change={"build/manifest.json": lambda b: b.replace(b"8", b"9", 1)})
    _refused(bad, target, r"build/manifest\.json does not match its checksum .* corrupt")


def test_truncated_file_refused(packed, target, tmp_path):
    data = packed.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: len(data) * 2 // 3])
    _refused(cut, target, r"truncated or damaged")


def test_partial_pack_refused(packed, target, tmp_path):
    partial = _rewrite(packed, tmp_path / "partial.tar", drop={"build/lsoas.parquet"})
    _refused(partial, target, r"partial: 1 of \d+ files are missing \(first: build/lsoas\.parquet\)")


def test_wrong_format_refused(target, tmp_path):
    junk = tmp_path / "store.zip"
    junk.write_bytes(b"PK\x03\x04 not a tar at all" * 40)
    _refused(junk, target, r"not a Gapmap store pack \(not a tar archive")
    plain = tmp_path / "other.tar"
    with tarfile.open(plain, "w") as tar:
        info = tarfile.TarInfo("README.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    _refused(plain, target, r"does not start with gapmap-pack\.json")
    with pytest.raises(PackError, match="no such file"):
        unpack(tmp_path / "missing.tar", target)


@pytest.mark.parametrize("name", ["build/../../escaped.txt", "/tmp/escaped.txt", "build/reports/../../../x",
                                  "elsewhere/file.txt", "datasets/../x/y"])
def test_path_traversal_refused(packed, target, tmp_path, name):
    evil = _with_manifest(packed, tmp_path / "evil.tar", {name: b"boo"})
    _refused(evil, target, r"refused: the member")
    assert not (tmp_path / "escaped.txt").exists() and not (target.root / "x").exists()


def test_links_refused(packed, target, tmp_path):
    link = tarfile.TarInfo("build/passwd")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    evil = _with_manifest(packed, tmp_path / "link.tar", {}, extra=[link])
    _refused(evil, target, r"is a link or device")


def test_unlisted_member_refused(packed, target, tmp_path):
    info = tarfile.TarInfo("build/extra.parquet")
    info.size = 3
    extra = _rewrite(packed, tmp_path / "extra.tar", add=[(info, b"abc")])
    _refused(extra, target, r"'build/extra\.parquet' is not in the pack's manifest")


def test_cli_pack_unpack_and_store_pack_at_start(built, tmp_path, monkeypatch):
    runner = CliRunner()
    monkeypatch.setenv("GAPMAP_STORE", str(built.root))
    out = tmp_path / "carry.tar"
    result = runner.invoke(main, ["data", "pack", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "gapmap data unpack carry.tar" in result.output
    monkeypatch.setenv("GAPMAP_STORE", str(tmp_path / "analyst"))
    checked = runner.invoke(main, ["data", "unpack", "--check", str(out)])
    assert checked.exit_code == 0 and "match their checksums" in checked.output
    assert not (tmp_path / "analyst").exists()  # checking installs nothing
    result = runner.invoke(main, ["data", "unpack", str(out)])
    assert result.exit_code == 0 and "Installed build" in result.output
    assert Store(tmp_path / "analyst").manifest()["build_id"] == built.manifest()["build_id"]
    # GAPMAP_STORE_PACK installs the pack at start, once
    monkeypatch.setenv("GAPMAP_STORE", str(tmp_path / "kiosk"))
    monkeypatch.setenv("GAPMAP_STORE_PACK", str(out))
    first = runner.invoke(main, ["data", "status"])
    assert first.exit_code == 0 and "Installed the store pack" in first.output
    second = runner.invoke(main, ["data", "status"])
    assert second.exit_code == 0 and "Installed the store pack" not in second.output
    assert len(list((tmp_path / "kiosk" / "builds").iterdir())) == 1
    monkeypatch.setenv("GAPMAP_STORE_PACK", str(tmp_path / "nothing.tar"))
    bad = runner.invoke(main, ["data", "status"])
    assert bad.exit_code == 1 and "GAPMAP_STORE_PACK" in bad.output and "no such file" in bad.output


# ---- issue 19: complete, of a sane size, and disclosure control kept ---------------------------
def _without(path, target, names):
    """A pack whose manifest and members both leave out ``names`` (a consistent but incomplete pack)."""
    manifest = read_manifest(path)
    for name in names:
        del manifest["files"][name]
    return _rewritten(path, target, manifest, leave_out=set(names))


def test_incomplete_pack_refused_naming_the_missing_tables(packed, target, tmp_path):
    incomplete = _without(packed, tmp_path / "incomplete.tar", ["build/points_schools.parquet",
                                                                  "build/postcodes.parquet"])
    _refused(incomplete, target, r"the pack is incomplete: it lacks 2 of the tables every Gapmap store holds "
                                 r"\(points_schools, postcodes\); make the pack again from a complete build\. "
                                 r"Nothing was installed: the store in use is unchanged")


def test_oversized_manifest_refused_from_its_header(packed, target, tmp_path, monkeypatch):
    import gzip

    big = tmp_path / "big.tar.gz"
    with tarfile.open(big, "w:gz") as out:  # a 40 MB manifest that gzip makes tiny
        head = tarfile.TarInfo(MANIFEST_NAME)
        head.size = 40_000_000
        out.addfile(head, io.BytesIO(b" " * head.size))
    assert big.stat().st_size < 200_000 and gzip.open(big).read(10)

    def never(*args, **kwargs):
        raise AssertionError("the manifest was read")

    monkeypatch.setattr(tarfile.TarFile, "extractfile", never)
    _refused(big, target, r"the pack's gapmap-pack\.json is 40\.0 MB, more than the 16 MB a manifest may be "
                          r"\(GAPMAP_MAX_PACK_MANIFEST_MB\): not a pack Gapmap made; nothing was read or installed")


def test_oversized_member_refused_from_the_manifest(packed, target, tmp_path, monkeypatch):
    monkeypatch.setenv("GAPMAP_MAX_PACK_FILE_MB", "0.001")
    _refused(packed, target, r"build/\S+ is [\d.]+ MB, more than the 0\.001 MB a file in a pack may be "
                             r"\(GAPMAP_MAX_PACK_FILE_MB\); nothing was installed")


def test_member_larger_than_its_manifest_entry_refused_before_it_is_read(packed, target, tmp_path):
    grown = _rewrite(packed, tmp_path / "grown.tar", change={"build/manifest.json": lambda b: b + b" " * 5000})
    _refused(grown, target, r"build/manifest\.json is \d[\d,]* bytes in the pack but \d+ in its manifest")


def test_packed_dataset_cannot_weaken_disclosure_control(built, target, tmp_path):
    counts = pd.DataFrame({"lsoa21cd": ["E01000001"], "count": [3]})
    DatasetStore(built).save("weak-rule", {"measure": "Admissions", "disclosure": {"suppress_to": 0, "round_to": 1}},
                             pd.DataFrame({"row": []}), counts=counts)
    try:
        pack(built, tmp_path / "weak.tar", datasets=True)
    finally:
        DatasetStore(built).remove("weak-rule")
    _refused(tmp_path / "weak.tar", target,
             r"the dataset 'weak-rule' in the pack asks for weaker disclosure control "
             r"\(\{\"suppress_to\": 0, \"round_to\": 1\}\) than this server allows \(counts 1 to 7 suppressed, "
             r"others rounded to 5\); nothing was installed")
    assert "weak-rule" not in DatasetStore(target).names()
