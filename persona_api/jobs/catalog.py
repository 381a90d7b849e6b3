"""Every capability's re-index step and artifact loader, in one place: the job and the API are
composed from these lists (tests build their own)."""

from __future__ import annotations

from persona_api.jobs.steps import StepRegistry, TenantDirectoryStep
from persona_api.memory.artifacts import STEP as MEMORY
from persona_api.memory.artifacts import MemoryIndexStep, load_snapshots
from persona_api.preferences.bundle import STEP as PREFERENCES
from persona_api.preferences.bundle import load_preferences
from persona_api.preferences.job import PreferenceStep
from persona_api.recsys.bundle import STEP as SEQREC
from persona_api.recsys.bundle import load_models
from persona_api.recsys.hotswap import ArtifactLoaders
from persona_api.recsys.pairing.bundle import STEP as PAIRING
from persona_api.recsys.pairing.bundle import load_pairings
from persona_api.recsys.pairing.training import PairingStep
from persona_api.recsys.training import SeqRecStep


def all_steps() -> StepRegistry:
    registry = StepRegistry()
    registry.register(TenantDirectoryStep())
    registry.register(MemoryIndexStep())
    registry.register(SeqRecStep())
    registry.register(PairingStep())
    registry.register(PreferenceStep())
    return registry


def all_loaders() -> ArtifactLoaders:
    loaders = ArtifactLoaders()
    loaders.register(MEMORY, load_snapshots)
    loaders.register(SEQREC, load_models)
    loaders.register(PAIRING, load_pairings)
    loaders.register(PREFERENCES, load_preferences)
    return loaders
