"""``persona-api worker`` that SIGKILLs itself in the middle of a batch, for tests/faults.

``python tests/faults/worker_job.py KILL_AT LEASE``: the worker's ``KILL_AT``-th turn dies inside
its write transaction (its memories are written, not committed); claims last ``LEASE`` seconds
(the default, 5 minutes, is longer than a test should wait for a dead worker's claims to expire).
Both are patches of this process only; then the CLI's ``main(["worker"])`` runs as usual.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from types import ModuleType
from typing import Any

from persona_api import cli, wiring
from persona_api.config import Settings
from persona_api.memory import extraction, writer
from persona_api.memory.extraction import ExtractionPolicy


def _replace(module: ModuleType, name: str, value: object) -> None:
    setattr(module, name, value)


def main() -> int:
    kill_at, lease = int(sys.argv[1]), float(sys.argv[2])

    def short_lease(settings: Settings) -> ExtractionPolicy:
        return dataclasses.replace(extraction.extraction_policy(settings), lease=lease)

    written = 0

    async def write_then_die(*args: Any, **kwargs: Any) -> Any:
        nonlocal written
        result = await writer.write_memories(*args, **kwargs)
        written += 1
        if written == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    # The names as the modules that call them imported them.
    _replace(wiring, "extraction_policy", short_lease)
    _replace(extraction, "write_memories", write_then_die)
    return cli.main(["worker"])


if __name__ == "__main__":
    raise SystemExit(main())
