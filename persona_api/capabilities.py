"""THE list of features. The app, the re-index job, the migrations and the tests iterate it.

Each :class:`Capability` names its tables (imported so they are on ``Base.metadata``), its HTTP
controllers, its user-data handler (export and erase), and, where it trains something, its
re-index step and the loader through which the API reads that step's artifacts. Adding a feature
is one entry here (and its runtime in :mod:`persona_api.wiring`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from litestar.types import ControllerRouterHandler
from sqlalchemy import MetaData

from persona_api.http.chat import ChatController
from persona_api.http.memory import MemoryController
from persona_api.http.pairings import (
    FoodPreferenceController,
    IngredientController,
    PairingController,
    RecipeController,
)
from persona_api.http.preferences import PopulationController, PreferenceController
from persona_api.http.recs import ItemController, RecommendationController
from persona_api.http.system_message import SystemMessageController
from persona_api.http.values import ValuesController
from persona_api.http.webhooks import WebhookController
from persona_api.kernel.hotswap import ArtifactLoaders, Loader
from persona_api.kernel.steps import Step, StepRegistry
from persona_api.memory import step as memory_step
from persona_api.memory import tables as memory_tables
from persona_api.memory.userdata import MemoryUserData
from persona_api.openai_compat.routes import OpenAIController
from persona_api.pairing import bundle as pairing_bundle
from persona_api.pairing import tables as pairing_tables
from persona_api.pairing.step import PairingStep
from persona_api.pairing.userdata import PairingUserData
from persona_api.preferences import bundle as preference_bundle
from persona_api.preferences import tables as preference_tables
from persona_api.preferences.step import PreferenceStep
from persona_api.preferences.userdata import PreferenceUserData
from persona_api.recsys import bundle as recsys_bundle
from persona_api.recsys import tables as recsys_tables
from persona_api.recsys.step import SeqRecStep
from persona_api.recsys.userdata import RecsysUserData
from persona_api.store import console_sessions, outbox
from persona_api.store import tables as store_tables
from persona_api.store.step import TenantDirectoryStep
from persona_api.store.userdata import UserDataHandler
from persona_api.values import tables as value_tables
from persona_api.values.userdata import ValuesUserData
from persona_api.wiring import Runtime


@dataclass(frozen=True, kw_only=True)
class Artifact:
    """A trained component: its re-index step and how the API loads what the step wrote."""

    step: Callable[[], Step]
    name: str
    """The step's folder in a version, and the component's key once loaded."""
    loader: Loader


@dataclass(frozen=True, kw_only=True)
class Capability:
    name: str
    tables: ModuleType | None
    controllers: tuple[ControllerRouterHandler, ...]
    user_data: Callable[[Runtime], UserDataHandler] | None = None
    artifact: Artifact | None = None


CAPABILITIES: tuple[Capability, ...] = (
    Capability(
        name="memory",
        tables=memory_tables,
        controllers=(MemoryController,),
        user_data=lambda rt: MemoryUserData(rt.memory.indexes),
        artifact=Artifact(
            step=memory_step.MemoryIndexStep, name=memory_step.STEP, loader=memory_step.load_snapshots
        ),
    ),
    Capability(
        name="recommendations",
        tables=recsys_tables,
        controllers=(ItemController, RecommendationController),
        user_data=lambda rt: RecsysUserData(rt.recsys),
        artifact=Artifact(step=SeqRecStep, name=recsys_bundle.STEP, loader=recsys_bundle.load_models),
    ),
    Capability(
        name="pairings",
        tables=pairing_tables,
        controllers=(IngredientController, RecipeController, FoodPreferenceController, PairingController),
        user_data=lambda rt: PairingUserData(rt.pairing),
        artifact=Artifact(step=PairingStep, name=pairing_bundle.STEP, loader=pairing_bundle.load_pairings),
    ),
    Capability(
        name="values",
        tables=value_tables,
        controllers=(ValuesController,),
        user_data=lambda rt: ValuesUserData(),
    ),
    Capability(
        name="preferences",
        tables=preference_tables,
        controllers=(PreferenceController, PopulationController),
        user_data=lambda rt: PreferenceUserData(rt.preferences),
        artifact=Artifact(
            step=PreferenceStep, name=preference_bundle.STEP, loader=preference_bundle.load_preferences
        ),
    ),
    Capability(
        name="chat",
        tables=None,  # a chat's turns are conversation memory's
        controllers=(SystemMessageController, ChatController, OpenAIController),
    ),
    Capability(
        name="webhooks",
        tables=outbox,  # events are written by the changes themselves (store.outbox.emit)
        controllers=(WebhookController,),
    ),
)


def steps(capabilities: tuple[Capability, ...] = CAPABILITIES) -> StepRegistry:
    """The re-index job's steps: the tenant directory, then each trained capability's, in order."""
    trained = [c.artifact.step() for c in capabilities if c.artifact is not None]
    return StepRegistry([TenantDirectoryStep(), *trained])


def loaders(capabilities: tuple[Capability, ...] = CAPABILITIES) -> ArtifactLoaders:
    """The API's artifact loaders, one per trained capability."""
    registry = ArtifactLoaders()
    for capability in capabilities:
        if capability.artifact is not None:
            registry.register(capability.artifact.name, capability.artifact.loader)
    return registry


def metadata() -> MetaData:
    """Every table of the service (the store's own and each capability's), for Alembic.

    Each capability's ``tables`` module was imported above, which put its tables on ``Base``; so
    was the console's session table (the console is a way in, not a capability).
    """
    assert console_sessions.ConsoleSession.__table__ is not None
    return store_tables.Base.metadata
