"""A tenant's ingredients, flavor compounds, recipes and users' avoidances: validated bulk writes and
reads.

Every name goes through :func:`ingredient_key`; an unknown ingredient anywhere in a batch is a 422
naming each one with "did you mean" suggestions, and nothing of the batch is written. Every method
is scoped by ``tenant_id``.
"""

from __future__ import annotations

from persona_api.pairing.avoidances import AvoidanceShelf
from persona_api.pairing.recipes import RecipeShelf


class Pantry(RecipeShelf, AvoidanceShelf):
    """Every shelf of one tenant's pantry, over one session; see the module docstring."""
