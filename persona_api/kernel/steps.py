"""Re-index steps: the unit of work of ``persona-api reindex`` and the registry that orders them.

Each step reads the database and writes its artifacts under ``<staging>/<step name>/``. The runner
reads the tenant list once per run and hands the same list to every step (:attr:`StepContext.tenants`),
so one re-index never sees two different sets of tenants. Most steps train each tenant on its own:
they subclass :class:`PerTenantStep` and implement :meth:`PerTenantStep.run_tenant` only.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from persona_api.config import Settings
from persona_api.kernel.manifest import MetricValue

_STEP_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class ProgressBar(Protocol):
    """The part of ``tqdm`` a step uses."""

    def update(self, n: int = 1) -> object: ...


ProgressFactory = Callable[[int | None, str], ProgressBar]
"""``progress(total, unit)``: the step's progress bar, sized to ``total`` items of ``unit``."""


@dataclass(frozen=True, kw_only=True)
class TenantRef:
    """One tenant as the run saw it when it started."""

    id: str
    name: str
    users: int


@dataclass(frozen=True, kw_only=True)
class StepContext:
    """What a step gets: the database, where to write, settings, the tenants and its progress bar."""

    engine: AsyncEngine
    out_dir: Path
    """The staging folder of the version; a step writes only under ``out_dir/<step name>/``."""
    settings: Settings
    progress: ProgressFactory
    tenants: Sequence[TenantRef] = ()
    """Every tenant, ordered by id, read once at the start of the run."""

    def step_dir(self, name: str) -> Path:
        """``out_dir/<name>``, created on first use."""
        path = self.out_dir / name
        path.mkdir(exist_ok=True)
        return path


@dataclass(frozen=True, kw_only=True)
class StepResult:
    """What a step reports for the manifest."""

    input_rows: dict[str, int] = field(default_factory=dict)
    """Rows read per table."""
    metrics: dict[str, MetricValue] = field(default_factory=dict)
    tenants: Sequence[TenantRef] | None = None
    """Set by the step that reads the tenant list; the steps after it get this list."""


class Step(Protocol):
    """One re-index step. ``name`` is its folder in the version and its key in the manifest."""

    @property
    def name(self) -> str: ...

    async def run(self, ctx: StepContext) -> StepResult: ...


class StepRegistry:
    """Steps in the order they run; names are unique."""

    def __init__(self, steps: Sequence[Step] = ()) -> None:
        self._steps: dict[str, Step] = {}
        for step in steps:
            self.register(step)

    def register(self, step: Step) -> None:
        if not _STEP_NAME_RE.match(step.name):
            raise ValueError(f"step name {step.name!r} must match {_STEP_NAME_RE.pattern}")
        if step.name in self._steps:
            raise ValueError(f"a re-index step named {step.name!r} is already registered")
        self._steps[step.name] = step

    def names(self) -> list[str]:
        return list(self._steps)

    def __iter__(self) -> Iterator[Step]:
        return iter(list(self._steps.values()))

    def __len__(self) -> int:
        return len(self._steps)


@dataclass(frozen=True, kw_only=True)
class TenantOutcome:
    """What :meth:`PerTenantStep.run_tenant` did for one tenant."""

    rows: Mapping[str, int] = field(default_factory=dict)
    """Rows read per table, summed over tenants into the step's ``input_rows``."""
    trained: bool = False
    skipped: str | None = None
    """Why the tenant has data but could not be trained yet."""
    entry: object = None
    """The tenant's value in the step's directory file, for steps that override :meth:`directory`."""


class PerTenantStep(ABC):
    """A step that handles each tenant in turn: one progress bar over the run's tenants, and a
    directory file (``<step>/<DIRECTORY>``) saying which tenants were trained and which skipped."""

    name: str
    DIRECTORY = "tenants.json"
    ROWS: tuple[str, ...] = ()
    """The tables the step reads, reported in ``input_rows`` even when no tenant has any."""

    @abstractmethod
    async def run_tenant(self, ctx: StepContext, tenant_id: str, folder: Path) -> TenantOutcome:
        """Read and train one tenant, writing its files under ``folder`` (created on demand)."""

    async def run(self, ctx: StepContext) -> StepResult:
        out = ctx.step_dir(self.name)
        bar = ctx.progress(len(ctx.tenants), "tenant")
        outcomes: dict[str, TenantOutcome] = {}
        for tenant in ctx.tenants:
            outcomes[tenant.id] = await self.run_tenant(ctx, tenant.id, out / tenant.id)
            bar.update(1)
        write_json(out / self.DIRECTORY, self.directory(outcomes))
        rows: Counter[str] = Counter()
        for outcome in outcomes.values():
            rows.update(outcome.rows)
        return StepResult(input_rows=self.input_rows(rows), metrics=self.metrics(outcomes, rows))

    def directory(self, outcomes: Mapping[str, TenantOutcome]) -> object:
        """The directory file's content (default: ``{"trained": [...], "skipped": {...}}``)."""
        return {
            "trained": [t for t, o in outcomes.items() if o.trained],
            "skipped": {t: o.skipped for t, o in outcomes.items() if o.skipped is not None},
        }

    def input_rows(self, rows: Mapping[str, int]) -> dict[str, int]:
        return {table: rows.get(table, 0) for table in self.ROWS}

    def metrics(
        self, outcomes: Mapping[str, TenantOutcome], rows: Mapping[str, int]
    ) -> dict[str, MetricValue]:
        return {
            "tenants_trained": sum(o.trained for o in outcomes.values()),
            "tenants_skipped": sum(o.skipped is not None for o in outcomes.values()),
        }


def write_json(path: Path, data: object) -> None:
    """Pretty, sorted JSON with a final newline (the artifacts' own files are diffable)."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
