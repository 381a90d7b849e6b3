"""Settings of the pairing model (all components), stored with every trained model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from persona_api.pairing.completion import CompletionConfig
from persona_api.pairing.neighbours import NeighbourConfig


@dataclass(frozen=True, kw_only=True)
class PairingConfig:
    """Every setting of :class:`~persona_api.pairing.model.PairingModel` and its parts."""

    neighbours: NeighbourConfig = field(default_factory=NeighbourConfig)
    completion: CompletionConfig = field(default_factory=CompletionConfig)
    ease_l2: float = 50.0
    ease_temperature: float = 8.0
    """EASE scores become a distribution through ``softmax(temperature * score)``."""
    pmi_pseudo_count: float = 5.0
    min_completion_recipes: int = 1000
    """Below this many usable recipes the network is skipped (too little to learn from)."""
    min_validation_recipes: int = 200
    flavor_weights: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2)
    """Candidate weights of the flavor distribution in the blend."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form (tuples become lists)."""
        out: dict[str, Any] = asdict(self)
        out["flavor_weights"] = list(self.flavor_weights)
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> PairingConfig:
        """Inverse of :meth:`to_json`."""
        rest = dict(raw)
        return cls(
            neighbours=NeighbourConfig(**rest.pop("neighbours")),
            completion=CompletionConfig(**rest.pop("completion")),
            flavor_weights=tuple(rest.pop("flavor_weights")),
            **rest,
        )
