"""Re-index steps: the unit of work of ``persona-api reindex`` and the registry that orders them.

Each step reads the database and writes its artifacts under ``<staging>/<step name>/``. Later
capabilities register their training steps (memory index, recommender, pairings, preferences)
after the built-in ones, so they can rely on what earlier steps wrote.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from persona_api.config import Settings
from persona_api.recsys.artifacts import MetricValue
from persona_api.store.tables import Tenant, User

_STEP_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class ProgressBar(Protocol):
    """The part of ``tqdm`` a step uses."""

    def update(self, n: int = 1) -> object: ...


ProgressFactory = Callable[[int | None, str], ProgressBar]
"""``progress(total, unit)``: the step's progress bar, sized to ``total`` items of ``unit``."""


@dataclass(frozen=True, kw_only=True)
class StepContext:
    """What a step gets: the database, where to write, settings, and its progress bar."""

    engine: AsyncEngine
    out_dir: Path
    """The staging folder of the version; a step writes only under ``out_dir/<step name>/``."""
    settings: Settings
    progress: ProgressFactory

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


class Step(Protocol):
    """One re-index step. ``name`` is its folder in the version and its key in the manifest."""

    @property
    def name(self) -> str: ...

    async def run(self, ctx: StepContext) -> StepResult: ...


class StepRegistry:
    """Steps in the order they run; names are unique."""

    def __init__(self) -> None:
        self._steps: dict[str, Step] = {}

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


class TenantDirectoryStep:
    """Writes ``tenants/tenants.json``: every tenant with its user count, so later steps know
    which tenants to train."""

    name = "tenants"
    FILE = "tenants.json"

    async def run(self, ctx: StepContext) -> StepResult:
        stmt = (
            select(Tenant.id, Tenant.name, func.count(User.id))
            .outerjoin(User, User.tenant_id == Tenant.id)
            .group_by(Tenant.id, Tenant.name)
            .order_by(Tenant.id)
        )
        async with ctx.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        bar = ctx.progress(len(rows), "tenant")
        directory: list[dict[str, Any]] = []
        for tenant_id, tenant_name, users in rows:
            directory.append({"id": tenant_id, "name": tenant_name, "users": int(users)})
            bar.update(1)
        _write_json(ctx.step_dir(self.name) / self.FILE, directory)
        total_users = sum(t["users"] for t in directory)
        return StepResult(
            input_rows={"tenants": len(directory), "users": total_users},
            metrics={"tenants": len(directory)},
        )


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def default_registry() -> StepRegistry:
    """The built-in steps; the CLI's ``reindex`` extends this with the capability steps."""
    registry = StepRegistry()
    registry.register(TenantDirectoryStep())
    return registry
