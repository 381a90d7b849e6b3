"""The artifact store: atomic publication, the CURRENT pointer, pruning, verification, the job lock."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from persona_api.errors import ArtifactError
from persona_api.kernel.artifacts import ArtifactStore
from persona_api.kernel.manifest import Manifest

ROOT = Path(__file__).resolve().parents[2]


def _publish(store: ArtifactStore, payload: str = "x", **rows: int) -> str:
    with store.stage() as staged:
        (staged.path / "demo").mkdir()
        (staged.path / "demo" / "data.txt").write_text(payload)
        store.publish(
            staged,
            code_version="test",
            input_rows=rows or {"users": 1},
            metrics={"demo": {"items": 1}},
            steps=["demo"],
        )
    return staged.version


def test_publish_writes_manifest_and_switches_current(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=3)
    assert store.current_version() is None

    version = _publish(store, "hello", tenants=2, users=3)

    assert store.current_version() == version
    assert (tmp_path / "CURRENT").read_text().strip() == version
    manifest = store.manifest(version)
    assert manifest.version == version
    assert manifest.input_rows == {"tenants": 2, "users": 3}
    assert manifest.files == {"demo/data.txt": hashlib.sha256(b"hello").hexdigest()}
    assert manifest.metrics == {"demo": {"items": 1}}
    assert manifest.steps == ["demo"]
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert store.verify(version) == manifest
    assert not list(tmp_path.glob(".staging-*"))
    assert not (tmp_path / "CURRENT.tmp").exists()


def test_versions_are_sorted_in_publication_order(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=10)
    published = [_publish(store, str(i)) for i in range(4)]
    (tmp_path / ".staging-junk").mkdir()
    (tmp_path / "not-a-version").mkdir()

    assert store.versions() == published
    assert store.current_version() == published[-1]


def test_prune_keeps_newest_and_never_the_current(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=2)
    published = [_publish(store, str(i)) for i in range(4)]
    assert store.versions() == published[-2:]
    assert not list(tmp_path.glob(".trash-*"))

    # After a manual rollback CURRENT names an older version; pruning must keep it.
    (tmp_path / "CURRENT").write_text(published[2] + "\n")
    strict = ArtifactStore(tmp_path, keep=1)
    assert strict.prune() == []
    assert strict.versions() == published[-2:]

    (tmp_path / "CURRENT").write_text(published[3] + "\n")
    assert strict.prune() == [published[2]]
    assert strict.versions() == [published[3]]


def test_exception_inside_stage_leaves_nothing(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=3)
    before = _publish(store)

    with pytest.raises(RuntimeError, match="boom"), store.stage() as staged:
        (staged.path / "partial.bin").write_bytes(b"\0" * 10)
        raise RuntimeError("boom")

    assert not staged.path.exists()
    assert not list(tmp_path.glob(".staging-*"))
    assert store.versions() == [before]
    assert store.current_version() == before


def test_stage_without_publish_is_discarded(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=3)
    with store.stage() as staged:
        (staged.path / "file").write_text("x")
    assert not staged.path.exists()
    assert store.versions() == []
    assert store.current_version() is None


def test_verify_detects_tampering(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=3)
    version = _publish(store, "original")
    (tmp_path / version / "demo" / "data.txt").write_text("tampered")
    with pytest.raises(ArtifactError, match=r"demo/data\.txt"):
        store.verify(version)

    (tmp_path / version / "demo" / "data.txt").write_text("original")
    store.verify(version)
    (tmp_path / version / "demo" / "extra.txt").write_text("smuggled in")
    with pytest.raises(ArtifactError, match=r"demo/extra\.txt"):
        store.verify(version)


def test_current_pointing_at_missing_or_bad_version_is_none(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=3)
    (tmp_path / "CURRENT").write_text("20990101T000000000000Z-abcd\n")
    assert store.current_version() is None
    (tmp_path / "CURRENT").write_text("../../etc\n")
    assert store.current_version() is None
    with pytest.raises(ArtifactError, match="invalid artifact version"):
        store.path("../../etc")


def test_malformed_manifest_is_an_artifact_error(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=3)
    version = _publish(store)
    manifest_path = tmp_path / version / "manifest.json"
    raw = json.loads(manifest_path.read_text())
    raw["input_rows"] = {"users": "many"}
    manifest_path.write_text(json.dumps(raw))
    with pytest.raises(ArtifactError, match="malformed manifest"):
        store.manifest(version)


def test_lock_prevents_a_second_job(tmp_path: Path) -> None:
    first = ArtifactStore(tmp_path, keep=3)
    second = ArtifactStore(tmp_path, keep=3)
    with first.lock(), pytest.raises(ArtifactError, match="another re-index job is running"), second.lock():
        pass
    with second.lock():
        pass


def test_cleanup_stale_removes_leftovers_only(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=3)
    version = _publish(store)
    for leftover in (".staging-20200101T000000000000Z-0000", ".trash-20200101T000000000000Z-0001"):
        (tmp_path / leftover / "step").mkdir(parents=True)
        (tmp_path / leftover / "step" / "partial.bin").write_bytes(b"\0")

    removed = store.cleanup_stale()

    assert removed == [".staging-20200101T000000000000Z-0000", ".trash-20200101T000000000000Z-0001"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [version]
    assert store.current_version() == version


# A job killed by SIGKILL right after its version's rename, before CURRENT is replaced.
KILLED_AT_SWITCH = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from persona_api.kernel import artifacts

    store = artifacts.ArtifactStore(Path(sys.argv[1]), keep=int(sys.argv[2]))
    real = os.replace

    def killed(src, dst):
        if Path(dst).name == artifacts.CURRENT_NAME:
            os.kill(os.getpid(), signal.SIGKILL)
        real(src, dst)

    artifacts.os.replace = killed
    with store.lock(), store.stage() as staged:
        (staged.path / "demo").mkdir()
        (staged.path / "demo" / "data.txt").write_text("orphan")
        store.publish(staged, code_version="test", input_rows={}, metrics={}, steps=["demo"])
    """
)


def _orphan(tmp_path: Path, keep: int) -> str:
    """Runs a publication that is SIGKILLed between the rename and the switch; the orphan's name."""
    before = set(ArtifactStore(tmp_path, keep=keep).folders())
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_AT_SWITCH, str(tmp_path), str(keep)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    [orphan] = set(ArtifactStore(tmp_path, keep=keep).folders()) - before
    return orphan


def test_a_version_current_never_named_is_not_kept_and_cleanup_removes_it(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=2)
    published = [_publish(store, str(i)) for i in range(2)]
    orphan = _orphan(tmp_path, keep=2)

    assert orphan > published[-1] and (tmp_path / orphan / "manifest.json").is_file()
    assert store.current_version() == published[-1]
    assert store.versions() == published  # the orphan does not count as kept
    assert store.prune() == []  # ... so it does not push a published version out

    # A job holds the lock: it may be about to name that folder, so nothing is removed.
    with ArtifactStore(tmp_path, keep=2).lock(), pytest.raises(ArtifactError, match="another re-index"):
        store.cleanup_stale()
    assert (tmp_path / orphan).is_dir()

    assert store.cleanup_stale() == [orphan]
    assert store.folders() == published
    # The next version still sorts after the orphan's name, which is never reused.
    newer = _publish(store, "next")
    assert newer > orphan and store.versions() == [published[-1], newer]


def test_versions_rolled_back_from_are_not_orphans(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=5)
    published = [_publish(store, str(i)) for i in range(3)]
    (tmp_path / "CURRENT").write_text(published[0] + "\n")  # a manual rollback

    assert store.versions() == published
    with store.lock():
        assert store.cleanup_stale() == []
    assert store.folders() == published

    # Publishing from the rolled-back state records it too; the others stay published.
    newer = _publish(store, "after rollback")
    assert store.versions() == [*published, newer]


def test_a_store_from_before_the_published_list_keeps_its_versions(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=5)
    published = [_publish(store, str(i)) for i in range(2)]
    (tmp_path / "PUBLISHED").unlink()
    (tmp_path / "CURRENT").write_text(published[0] + "\n")

    assert store.versions() == published
    with store.lock():
        assert store.cleanup_stale() == []
    assert store.versions() == published
    assert (tmp_path / "PUBLISHED").read_text().split() == published


def test_staging_and_trash_never_count_as_versions(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=1)
    version = _publish(store)
    for leftover in (".staging-20990101T000000000000Z-0000", ".trash-20990101T000000000000Z-0001"):
        (tmp_path / leftover).mkdir()
        (tmp_path / leftover / "manifest.json").write_text("{}")
    assert store.versions() == [version] and store.folders() == [version]
    assert store.prune() == []
