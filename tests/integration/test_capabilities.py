"""Every entry of persona_api.capabilities reaches every place that composes the service: its
routes are mounted, its tables migrated, its step run by the job, its artifacts loaded by the API,
and its data exported and erased with the user."""

from __future__ import annotations

from types import ModuleType

from litestar import Litestar
from sqlalchemy import inspect

from persona_api.capabilities import CAPABILITIES, loaders, metadata, steps
from persona_api.config import Settings
from persona_api.store.db import create_engine
from persona_api.store.userdata import UserDataRegistry


def test_every_capability_is_composed_into_the_app(app: Litestar) -> None:
    mounted = {route.path for route in app.routes}
    registry: UserDataRegistry = app.state.user_data
    handlers = {handler.name for handler in registry}
    for capability in CAPABILITIES:
        for controller in capability.controllers:
            base = getattr(controller, "path", "")
            assert any(path.startswith(base) for path in mounted), (capability.name, base)
        if capability.user_data is not None:
            assert capability.user_data(app.state.runtime).name in handlers, capability.name
    trained = [c.artifact for c in CAPABILITIES if c.artifact is not None]
    assert steps().names() == ["tenants", *(a.name for a in trained)]
    assert loaders().names() == [a.name for a in trained]


def _tables_of(module: ModuleType) -> set[str]:
    """The table names of the ORM classes ``module`` defines (not those it imports)."""
    classes = [v for v in vars(module).values() if isinstance(v, type) and v.__module__ == module.__name__]
    names = (getattr(c, "__tablename__", None) for c in classes)
    return {name for name in names if isinstance(name, str)}


async def test_every_capabilitys_tables_are_migrated(database_url: str) -> None:
    engine = create_engine(Settings(database_url=database_url), pooled=False)
    try:
        async with engine.connect() as conn:
            present = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    for capability in CAPABILITIES:
        if capability.tables is not None:
            declared = _tables_of(capability.tables)
            assert declared, capability.name
            assert declared <= set(metadata().tables) and declared <= present, (
                capability.name,
                declared - present,
            )
