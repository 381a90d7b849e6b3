"""Cases run per operation label, filled by the contract test and printed by the suite's conftest."""

from __future__ import annotations

from collections import Counter

CASES: Counter[str] = Counter()
