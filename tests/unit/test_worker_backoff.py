"""The worker supervisor waits longer after each quick exit, up to a cap, and starts afresh after
a worker that stayed up (fake children, clock and sleep: nothing here waits)."""

from __future__ import annotations

import logging
import threading

import pytest

from persona_api.worker import Backoff, Child, supervise


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ExitingChild:
    """A child that ran ``uptime`` seconds of the fake clock, then exited with code 1."""

    def __init__(self, pid: int, clock: Clock, uptime: float) -> None:
        self.pid, self.clock, self.uptime = pid, clock, uptime

    def wait(self, timeout: float | None = None) -> int:
        self.clock.now += self.uptime
        return 1

    def poll(self) -> int | None:
        return 1

    def terminate(self) -> None:
        pass

    def kill(self) -> None:
        pass


class RecordedSleep(threading.Event):
    """``stopping``: its ``wait`` is the supervisor's sleep; records it and stops after ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.delays: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.delays.append(timeout)
        if len(self.delays) == self.limit:
            self.set()
        return self.is_set()


def _run(uptimes: list[float], backoff: Backoff) -> tuple[list[float], list[Child]]:
    clock = Clock()
    sleep = RecordedSleep(limit=len(uptimes))
    spawned: list[Child] = []

    def spawn() -> Child:
        child = ExitingChild(100 + len(spawned), clock, uptimes[len(spawned)])
        spawned.append(child)
        return child

    supervise(spawn, sleep, backoff=backoff, current=[], clock=clock)
    return sleep.delays, spawned


def test_quick_exits_back_off_exponentially_up_to_the_cap(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="persona_api.worker"):
        delays, spawned = _run([0.5] * 9, Backoff(first=1.0, cap=60.0, reset=300.0))
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    assert len(spawned) == 9
    exits = [r for r in caplog.records if r.getMessage() == "memory_worker.exited"]
    assert [getattr(r, "restart_in", None) for r in exits] == delays
    assert getattr(exits[0], "uptime", None) == 0.5 and getattr(exits[0], "code", None) == 1


def test_a_worker_that_stayed_up_resets_the_backoff() -> None:
    delays, _ = _run([1.0, 1.0, 1.0, 400.0, 1.0, 1.0], Backoff(first=0.5, cap=10.0, reset=300.0))
    assert delays == [0.5, 1.0, 2.0, 0.5, 1.0, 2.0]


def test_no_restart_once_stopping() -> None:
    stopping = threading.Event()
    clock = Clock()
    spawned: list[Child] = []

    def spawn() -> Child:
        stopping.set()  # the server shuts down while this worker runs
        child = ExitingChild(7, clock, 1.0)
        spawned.append(child)
        return child

    supervise(spawn, stopping, backoff=Backoff(), current=[], clock=clock)
    assert len(spawned) == 1


def test_backoff_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="first <= cap"):
        Backoff(first=5.0, cap=1.0)
