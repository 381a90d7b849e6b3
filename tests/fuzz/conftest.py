"""The fuzz suite's summary line: how many operations and cases schemathesis ran."""

from __future__ import annotations

from typing import Any

from tests.fuzz.tally import CASES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if CASES:
        terminalreporter.write_line(
            f"schemathesis: {len(CASES)} operations, {sum(CASES.values())} cases "
            f"(fewest {min(CASES.values())}, most {max(CASES.values())} per operation)"
        )
