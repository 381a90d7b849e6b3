"""Rewriting published versions without erased users: resealed manifests, crash recovery, the
job lock, and the API reloading a version it serves once it was rewritten."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from persona_api.errors import ArtifactError
from persona_api.kernel.artifacts import ArtifactStore
from persona_api.kernel.hotswap import ArtifactHolder, ArtifactLoaders
from persona_api.kernel.manifest import Manifest
from persona_api.kernel.scrub import ErasedUsers, FileReplacer, VersionEdit, recover, scrub_versions


class LineScrubber:
    """A step whose ``<tenant>/users.txt`` holds one user row id a line."""

    name = "demo"

    def __init__(self) -> None:
        self.calls = 0

    def scrub(self, folder: Path, erased: ErasedUsers, files: FileReplacer) -> None:
        self.calls += 1
        for tenant, pks in erased.by_tenant.items():
            path = folder / tenant / "users.txt"
            if not path.is_file():
                continue
            lines = path.read_text().split()
            kept = [line for line in lines if int(line) not in pks]
            if kept != lines:
                new = files.scratch() / "users.txt"
                new.write_text("".join(f"{line}\n" for line in kept))
                files.replace(path, new)


def _publish(store: ArtifactStore, users: dict[str, list[int]]) -> str:
    with store.stage() as staged:
        for tenant, pks in users.items():
            (staged.path / "demo" / tenant).mkdir(parents=True)
            (staged.path / "demo" / tenant / "users.txt").write_text("".join(f"{pk}\n" for pk in pks))
        (staged.path / "other").mkdir()
        (staged.path / "other" / "notes.txt").write_text("untouched")
        store.publish(staged, code_version="test", input_rows={}, metrics={}, steps=["demo", "other"])
    return staged.version


def _users(store: ArtifactStore, version: str, tenant: str = "t1") -> list[int]:
    return [int(x) for x in (store.path(version) / "demo" / tenant / "users.txt").read_text().split()]


ERASED = ErasedUsers({"t1": frozenset({2})})


def test_scrubbing_rewrites_only_what_names_the_users_and_reseals(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=5)
    first = _publish(store, {"t1": [1, 2, 3], "t2": [2]})
    second = _publish(store, {"t1": [1, 3]})
    untouched = (store.path(first) / "other" / "notes.txt").stat().st_ino

    result = scrub_versions(store, [LineScrubber()], ERASED)

    assert result.settled and result.scrubbed == [first, second] and not result.failed
    assert result.changed == {first: ["demo/t1/users.txt"]}
    assert _users(store, first) == [1, 3] and _users(store, first, "t2") == [2]
    assert store.verify(first).files["demo/t1/users.txt"] != store.verify(second).files["other/notes.txt"]
    assert (store.path(first) / "other" / "notes.txt").stat().st_ino == untouched
    assert not list(tmp_path.rglob(".scrub-*"))
    # Nothing left to do: a second pass changes nothing.
    assert scrub_versions(store, [LineScrubber()], ERASED).changed == {}


def test_a_pass_is_not_settled_while_a_job_runs(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=5)
    version = _publish(store, {"t1": [1, 2]})
    with ArtifactStore(tmp_path, keep=5).lock():
        result = scrub_versions(store, [LineScrubber()], ERASED)
    # The published files are clean already; only the acknowledgement waits for the job.
    assert not result.settled and _users(store, version) == [1]
    scrubber = LineScrubber()
    assert scrub_versions(store, [scrubber], ERASED, skip=[version]).settled
    assert scrubber.calls == 0


def test_an_edit_interrupted_after_its_journal_is_rolled_forward(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ArtifactStore(tmp_path, keep=5)
    version = _publish(store, {"t1": [1, 2], "t2": [2, 5]})
    erased = ErasedUsers({"t1": frozenset({2}), "t2": frozenset({2})})
    real = os.replace
    replaced: list[str] = []

    def crash_on_second(src: str | Path, dst: str | Path) -> None:
        if Path(dst).name == "users.txt":
            replaced.append(str(dst))
            if len(replaced) == 2:
                raise OSError("power cut")
        real(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_second)
    with pytest.raises(OSError, match="power cut"):
        edit = VersionEdit(store.path(version))
        LineScrubber().scrub(store.path(version) / "demo", erased, edit)
        edit.commit()
    monkeypatch.undo()
    with pytest.raises(ArtifactError, match="fails verification"):
        store.verify(version)  # one file new, the manifest old

    assert recover(store.path(version)) is True
    store.verify(version)
    assert _users(store, version) == [1] and _users(store, version, "t2") == [5]
    assert not list(tmp_path.rglob(".scrub-*"))


def test_an_edit_interrupted_before_its_journal_leaves_the_old_files(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=5)
    version = _publish(store, {"t1": [1, 2]})
    edit = VersionEdit(store.path(version))
    LineScrubber().scrub(store.path(version) / "demo", ERASED, edit)  # never committed
    assert list(store.path(version).glob(".scrub-*"))
    store.verify(version)  # scratch space is not part of the version

    assert recover(store.path(version)) is False
    assert not list(store.path(version).glob(".scrub-*")) and _users(store, version) == [1, 2]


def test_an_edit_cannot_touch_the_manifest_or_files_outside(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=5)
    version = _publish(store, {"t1": [1]})
    edit = VersionEdit(store.path(version))
    new = edit.scratch() / "x"
    new.write_text("x")
    with pytest.raises(ValueError, match="is not a file of"):
        edit.replace(store.path(version) / "manifest.json", new)
    with pytest.raises(ValueError, match="is not a file of"):
        edit.replace(tmp_path / "CURRENT", new)
    with pytest.raises(ValueError, match="scratch space"):
        edit.replace(store.path(version) / "other" / "notes.txt", tmp_path / "elsewhere")


def test_the_holder_reloads_the_served_version_once_it_is_rewritten(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=5)
    version = _publish(store, {"t1": [1, 2]})
    loads: list[str] = []

    def users(version_dir: Path, manifest: Manifest) -> object:
        loads.append(manifest.version)
        return (version_dir / "demo" / "t1" / "users.txt").read_text().split()

    loaders = ArtifactLoaders()
    loaders.register("demo", users)
    holder = ArtifactHolder(store, loaders)
    assert not holder.settled
    assert holder.refresh() is True and holder.settled
    assert holder.require().get("demo", list) == ["1", "2"]
    assert holder.refresh() is False  # same version, same files

    scrub_versions(store, [LineScrubber()], ERASED)
    assert holder.refresh() is True
    assert holder.version == version and holder.require().get("demo", list) == ["1"]
    assert holder.refresh() is False and loads == [version, version]
