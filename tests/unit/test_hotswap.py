"""The artifact holder: load at start, atomic swaps, failed loads keep serving, the watcher."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from persona_api.errors import NotReady
from persona_api.kernel.artifacts import ArtifactStore
from persona_api.kernel.hotswap import ArtifactHolder, ArtifactLoaders, LoadedArtifacts, Loader
from persona_api.kernel.manifest import Manifest


def _publish(store: ArtifactStore, payload: str) -> str:
    with store.stage() as staged:
        for part in ("left", "right"):
            (staged.path / part).mkdir()
            (staged.path / part / "value.txt").write_text(payload)
        store.publish(staged, code_version="test", input_rows={}, metrics={}, steps=["left", "right"])
    return staged.version


def _reader(part: str) -> Loader:
    def load(version_dir: Path, manifest: Manifest) -> object:
        return f"{manifest.version}:{(version_dir / part / 'value.txt').read_text()}"

    return load


def _loaders() -> ArtifactLoaders:
    loaders = ArtifactLoaders()
    loaders.register("left", _reader("left"))
    loaders.register("right", _reader("right"))
    return loaders


def _assert_consistent(snapshot: LoadedArtifacts) -> None:
    left, right = snapshot.get("left", str), snapshot.get("right", str)
    assert left == right
    assert left.startswith(snapshot.version + ":")


def test_holder_loads_current_at_start(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=3)
    holder = ArtifactHolder(store, _loaders())
    assert holder.current is None
    with pytest.raises(NotReady):
        holder.require()
    assert holder.refresh() is False

    version = _publish(store, "one")
    assert holder.refresh() is True

    assert holder.version == version
    assert holder.require().get("left", str) == f"{version}:one"
    assert holder.refresh() is False
    with pytest.raises(KeyError, match="no artifact component 'missing'"):
        holder.require().get("missing", str)
    with pytest.raises(TypeError, match="not int"):
        holder.require().get("left", int)


def test_refresh_swaps_and_old_snapshot_stays_intact(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=1)
    old_version = _publish(store, "old")
    holder = ArtifactHolder(store, _loaders())
    holder.refresh()
    before = holder.current
    assert before is not None

    new_version = _publish(store, "new")
    assert holder.refresh() is True

    after = holder.current
    assert after is not None and after.version == new_version
    _assert_consistent(after)
    # The old folder is pruned (keep=1), yet a request holding the old snapshot is unaffected.
    assert not (tmp_path / old_version).exists()
    assert before.version == old_version
    assert before.get("left", str) == before.get("right", str) == f"{old_version}:old"


def _wait_until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.001)


def test_readers_never_see_a_mixed_version(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=2)
    _publish(store, "0")
    holder = ArtifactHolder(store, _loaders())
    holder.refresh()
    stop = threading.Event()
    seen: set[str] = set()
    problems: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            snapshot = holder.require()
            try:
                _assert_consistent(snapshot)
            except AssertionError as exc:
                problems.append(exc)
            seen.add(snapshot.version)
            time.sleep(0)  # yield the GIL so the publisher is not starved

    reader = threading.Thread(target=read)
    reader.start()
    try:
        _wait_until(lambda: bool(seen))
        for i in range(1, 6):
            _publish(store, str(i))
            assert holder.refresh() is True
        _wait_until(lambda: holder.version in seen)
    finally:
        stop.set()
        reader.join()
    assert problems == []
    assert holder.require().get("left", str).endswith(":5")
    assert len(seen) >= 2


def test_failing_loader_keeps_the_old_version(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = ArtifactStore(tmp_path, keep=5)
    good = _publish(store, "good")
    calls: list[str] = []

    def picky(version_dir: Path, manifest: Manifest) -> object:
        calls.append(manifest.version)
        text = (version_dir / "left" / "value.txt").read_text()
        if text == "bad":
            raise ValueError("cannot load this one")
        return text

    loaders = ArtifactLoaders()
    loaders.register("left", picky)
    holder = ArtifactHolder(store, loaders)
    assert holder.refresh() is True

    bad = _publish(store, "bad")
    with caplog.at_level(logging.ERROR, logger="persona_api.artifacts"):
        assert holder.refresh() is False
    assert holder.version == good
    assert holder.require().get("left", str) == "good"
    assert holder.failed_version == bad
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [(r.getMessage(), getattr(r, "version", None)) for r in errors] == [("artifacts.load_failed", bad)]

    # The broken version is not reloaded on every poll, but the next one is picked up.
    assert holder.refresh() is False
    assert calls == [good, bad]
    fixed = _publish(store, "fixed")
    assert holder.refresh() is True
    assert holder.version == fixed
    assert holder.failed_version is None


def test_tampered_version_is_not_loaded(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=5)
    good = _publish(store, "good")
    holder = ArtifactHolder(store, _loaders())
    holder.refresh()
    tampered = _publish(store, "next")
    (tmp_path / tampered / "right" / "value.txt").write_text("evil")

    assert holder.refresh() is False
    assert holder.version == good


def test_duplicate_loader_name_is_rejected() -> None:
    loaders = _loaders()
    with pytest.raises(ValueError, match="already registered"):
        loaders.register("left", _reader("left"))


async def _wait_for_version(holder: ArtifactHolder, version: str) -> None:
    """Poll for up to 2 s: 40 watch intervals of 0.05 s, far more than the couple it needs."""
    for _ in range(200):
        if holder.version == version:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"watch() did not load {version}; serving {holder.version}")


async def test_watch_picks_up_new_versions_and_survives_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ArtifactStore(tmp_path, keep=3)
    first = _publish(store, "first")
    holder = ArtifactHolder(store, _loaders())
    holder.refresh()
    task = asyncio.create_task(holder.watch(0.05))
    try:
        second = _publish(store, "second")
        await _wait_for_version(holder, second)

        # A transient failure reading the pointer is logged and the loop carries on.
        real = store.current_version
        failures = iter([OSError("disk hiccup")])

        def flaky() -> str | None:
            for exc in failures:
                raise exc
            return real()

        monkeypatch.setattr(store, "current_version", flaky)
        with caplog.at_level(logging.ERROR, logger="persona_api.artifacts"):
            # Published through another store object, as the job process would.
            third = _publish(ArtifactStore(tmp_path, keep=3), "third")
            await _wait_for_version(holder, third)
        assert "artifacts.watch_failed" in [r.getMessage() for r in caplog.records]
        assert first != second != third
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
