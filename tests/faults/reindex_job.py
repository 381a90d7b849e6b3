"""Runs ``persona-api reindex`` jobs that die or fail at a chosen point, for tests/faults.

Started once per test module (``python tests/faults/reindex_job.py``), it imports the CLI and
everything the job needs, then reads one JSON command per line from stdin::

    {"fault": "step:memory", "env": {"PERSONA_MODELS_DIR": ...}, "stdout": path, "stderr": path}

and forks a child per command that arms the fault, runs the CLI's ``main(["reindex"])`` with
``env`` added to its environment and its output in the two files, and exits with its code. The
parent answers each command with ``{"exit": code}`` (a negative code is the signal that ended the
child), so the import (seconds of torch) is paid once, not once per job. Faults:

- ``step:<name>``: SIGKILL once the step ``<name>`` has written its part of the version;
- ``rename:before`` / ``rename:after``: SIGKILL instead of, or right after, the ``os.rename`` that
  publishes the staging folder under the version's name;
- ``enospc:<n>``: files written under the models folder take ``<n>`` bytes, then every write fails
  with ``ENOSPC`` (a disk that fills up);
- ``none``: no fault.

No production code has a hook for this: each fault patches a function of the job in the child.
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from persona_api import cli
from persona_api.capabilities import steps
from persona_api.jobs import reindex as _job  # noqa: F401  # imported before the fork, like the rest
from persona_api.kernel.steps import StepContext, StepResult


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(fault: str) -> None:
    kind, _, arg = fault.partition(":")
    if kind == "step":
        [step] = [s for s in steps() if s.name == arg]
        cls: Any = type(step)
        original = cls.run

        async def run_then_die(self: Any, ctx: StepContext) -> StepResult:
            result: StepResult = await original(self, ctx)
            _die()
            return result

        cls.run = run_then_die
    elif kind == "rename":
        rename = os.rename

        def rename_and_die(src: Any, dst: Any) -> None:
            if Path(src).name.startswith(".staging-"):
                if arg == "after":
                    rename(src, dst)
                _die()
            rename(src, dst)

        os.rename = rename_and_die  # type: ignore[assignment]
    elif kind == "enospc":
        _fill_after(int(arg), Path(os.environ["PERSONA_MODELS_DIR"]).resolve())
    elif kind != "none":
        raise SystemExit(f"unknown fault {fault!r}")


class _Filling:
    """A file being written under the models folder, on a disk with ``left[0]`` bytes free."""

    def __init__(self, raw: Any, left: list[int]) -> None:
        self._raw = raw
        self._left = left

    def write(self, data: Any) -> int:
        self._left[0] -= len(data)
        if self._left[0] < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return int(self._raw.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def __enter__(self) -> _Filling:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._raw.close()

    def __iter__(self) -> Any:
        return iter(self._raw)


def _fill_after(limit: int, root: Path) -> None:
    """Files opened for writing under ``root`` take ``limit`` bytes in all, then fail with ENOSPC
    (``open`` as Python code calls it: ``pathlib``, ``json``, ``numpy``, ``zipfile``)."""
    left = [limit]
    real_open = io.open

    def open_filling(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        raw = real_open(file, mode, *args, **kwargs)
        writing = any(flag in mode for flag in "wax+")
        if writing and isinstance(file, str | os.PathLike) and Path(file).resolve().is_relative_to(root):
            return _Filling(raw, left)
        return raw

    io.open = builtins.open = open_filling


def _child(command: dict[str, Any]) -> int:
    os.environ.update(command["env"])
    for fd, path in ((1, command["stdout"]), (2, command["stderr"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    _arm(command["fault"])
    return cli.main(["reindex"])


def main() -> None:
    for line in sys.stdin:
        command = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _child(command)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(json.dumps({"exit": code}), flush=True)


if __name__ == "__main__":
    main()
