import hashlib
from pathlib import Path

import pytest

from nasspace.errors import ChecksumError, DataError
from nasspace.fetch import DataStore, ManifestEntry, load_manifest

CONTENT = b"index,value\n0,1.5\n"
URL = "https://raw.githubusercontent.com/owner/repo/0123abcd/data/table.csv"


def _entry(**overrides) -> ManifestEntry:
    fields = dict(
        name="table",
        filename="table.csv",
        holds="a test table",
        license="MIT",
        url=URL,
        size=len(CONTENT),
        sha256=hashlib.sha256(CONTENT).hexdigest(),
        git_blob=hashlib.sha1(b"blob %d\0" % len(CONTENT) + CONTENT).hexdigest(),
    )
    fields.update(overrides)
    return ManifestEntry(**fields)


def _mirror(tmp_path: Path, content: bytes) -> Path:
    mirror = tmp_path / "mirror"
    target = mirror / "owner/repo/0123abcd/data/table.csv"
    target.parent.mkdir(parents=True)
    target.write_bytes(content)
    return mirror


def test_fetch_from_mirror_verifies_and_stores(tmp_path):
    store = DataStore(tmp_path / "data", manifest={"table": _entry()})
    path = store.fetch("table", mirror=_mirror(tmp_path, CONTENT))
    assert path.read_bytes() == CONTENT and store.has("table")
    assert [s.state for s in store.status(verify=True)] == ["present"]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["table.csv"]


def test_corrupted_mirror_file_is_rejected_and_nothing_is_left(tmp_path):
    store = DataStore(tmp_path / "data", manifest={"table": _entry()})
    corrupted = CONTENT.replace(b"1.5", b"2.5")
    with pytest.raises(ChecksumError, match="sha256"):
        store.fetch("table", mirror=_mirror(tmp_path, corrupted))
    assert list((tmp_path / "data").iterdir()) == []
    with pytest.raises(DataError, match="crlso data fetch table"):
        store.path("table")


def test_wrong_git_blob_alone_is_caught(tmp_path):
    store = DataStore(tmp_path / "data", manifest={"table": _entry(sha256=None, git_blob="0" * 40)})
    with pytest.raises(ChecksumError, match="git_blob"):
        store.fetch("table", mirror=_mirror(tmp_path, CONTENT))
    assert list((tmp_path / "data").iterdir()) == []


def test_missing_source_is_a_clear_error(tmp_path):
    store = DataStore(tmp_path / "data", manifest={"table": _entry(url=None, mirror_path="owner/repo/x/table.csv")})
    with pytest.raises(DataError, match="no file at"):
        store.fetch("table", mirror=tmp_path / "empty-mirror")
    with pytest.raises(DataError, match="unknown data file 'nope'.*table"):
        store.fetch("nope")


def test_a_corrupt_local_copy_is_reported_and_replaced(tmp_path):
    store = DataStore(tmp_path / "data", manifest={"table": _entry()})
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "table.csv").write_bytes(b"garbage")
    assert store.status()[0].state == "corrupt"
    store.fetch("table", mirror=_mirror(tmp_path, CONTENT))
    assert (tmp_path / "data" / "table.csv").read_bytes() == CONTENT


def test_manifest_covers_sources_md():
    manifest = load_manifest()
    mirrored = [e for e in manifest.values() if e.mirror_relpath]
    # 11 mirrored files, 2 upstream-only tables, the image tar, HELP's 27 latency files and its index, the TransNAS zip
    assert len(mirrored) == 14 + 28 + 1
    for entry in manifest.values():
        assert entry.license and entry.holds
        if entry.mirror_relpath and entry.default:
            assert entry.sha256 and entry.git_blob and entry.size
    assert {"nb201-cifar100-valid", "nb201-imagenet16-valid"} <= manifest.keys()
    assert manifest["nb201-cifar100-valid"].git_blob == "bef5955f78e981b71c9caea194377a713410b635"


def test_every_default_file_verifies_against_the_shared_mirror(data_store):
    states = {s.entry.name: s.state for s in data_store.status(verify=True)}
    assert all(states[name] == "present" for name in data_store.default_names())
