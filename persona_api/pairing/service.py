"""Serving pairings: complete a set of ingredients, find the missing one, check a combination.

Names are resolved through the tenant's :class:`Pantry` (unknown names are a 422 with suggestions);
ingredients added after the last re-index are accepted but cannot be scored yet and are reported
as ``unscored``. With a user, what they dislike or are allergic to is never suggested, and their
own recipes count as extra evidence. Scoring is numpy work of a millisecond or two, done inline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

from persona_api.errors import FieldProblem, InvalidInput, NotReady
from persona_api.pairing.bundle import TenantPairing
from persona_api.pairing.names import ingredient_key
from persona_api.pairing.pantry import Pantry
from persona_api.pairing.runtime import IngredientRef, PairingRuntime
from persona_api.pairing.scorer import Mode

ADVISE_BELOW = -0.7
"""Pairs scoring below this are advised against: with the shrunk PMI of
:meth:`PairingModel.compatibility` that is together about half as often as their popularity
predicts, or less, on enough evidence."""
MIN_EXPECTED = 3.0
""""Rarely together" needs this many expected co-occurrences to mean anything."""
OWN_RECIPES_WEIGHT = 2.0


@dataclass(frozen=True, kw_only=True)
class PairingQuery:
    ingredients: Sequence[str]
    k: int = 10
    mode: Mode | None = None
    cuisine: str | None = None
    exclude: Sequence[str] = ()
    categories: Sequence[str] = ()
    user_id: int | None = None


@dataclass(frozen=True)
class Suggestion:
    name: str
    category: str
    score: float
    reason: str
    with_: list[tuple[str, int]]
    """Present ingredients this one is most often cooked with, and in how many recipes."""
    shared_compounds: list[tuple[str, int]]
    probability: float | None = None


@dataclass(frozen=True)
class Suggestions:
    items: list[Suggestion]
    mode: str
    model_version: str
    unscored: list[str]
    avoided: list[str]


@dataclass(frozen=True)
class PairCheck:
    a: str
    b: str
    score: float
    together: int
    expected: float
    shared_compounds: int
    advise_against: bool
    why: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CheckResult:
    score: float | None
    pairs: list[PairCheck]
    avoid: list[tuple[str, str]]
    """Ingredients of the set the user avoids: ``(name, "dislike" | "allergy")``."""
    model_version: str
    unscored: list[str]


class Pairer:
    def __init__(self, runtime: PairingRuntime, pantry: Pantry) -> None:
        self.runtime = runtime
        self.pantry = pantry

    def _tenant(self) -> tuple[TenantPairing, str]:
        models = self.runtime.models()
        tenant = models.get(self.pantry.tenant_id) if models is not None else None
        if models is None or tenant is None:
            raise NotReady(
                "no pairing model for this tenant yet: add recipes, then run `persona-api reindex`",
                retry_after=60,
            )
        return tenant, models.version

    async def _resolve(self, names: Sequence[str], where: str) -> list[IngredientRef]:
        """Like :meth:`Pantry.resolve` (same 422 for unknown names), from the cache when it can."""
        known = self.runtime.known_names(self.pantry.tenant_id)
        keys = [ingredient_key(n) for n in names]
        if all(k in known for k in keys):
            return [known[k] for k in keys]
        rows = await self.pantry.resolve(names, where)
        for key, row in zip(keys, rows, strict=True):
            known[key] = IngredientRef(row.id, row.name)
        return [known[k] for k in keys]

    @staticmethod
    def _indices(tenant: TenantPairing, rows: Sequence[IngredientRef]) -> tuple[list[int], list[str]]:
        """Model indices of the ingredients it knows, and the names of those it does not."""
        known = [tenant.index_of[r.id] for r in rows if r.id in tenant.index_of]
        unscored = [r.name for r in rows if r.id not in tenant.index_of]
        return list(dict.fromkeys(known)), unscored

    def _cuisine(self, tenant: TenantPairing, cuisine: str | None) -> str | None:
        if cuisine is None:
            return None
        by_lower = {c.lower(): c for c in tenant.model.cuisines}
        found = by_lower.get(cuisine.strip().lower())
        if found is None:
            known = ", ".join(sorted(tenant.model.cuisines)) or "none"
            raise InvalidInput(
                f"unknown cuisine {cuisine!r}; known: {known}",
                [FieldProblem("cuisine", f"not one of the tenant's cuisines ({known})")],
            )
        return found

    async def suggest(self, query: PairingQuery, *, probabilities: bool = False) -> Suggestions:
        given = await self._resolve(query.ingredients, "ingredients")
        not_wanted = await self._resolve(query.exclude, "exclude")
        tenant, version = self._tenant()
        model = tenant.model
        present, unscored = self._indices(tenant, given)
        excluded, _ = self._indices(tenant, not_wanted)
        mode: Mode = query.mode or model.default_mode
        cuisine = self._cuisine(tenant, query.cuisine)
        avoided: list[str] = []
        extra: list[NDArray[np.int64]] = []
        if query.user_id is not None:
            avoids = await self.pantry.avoidances(query.user_id)
            excluded += [tenant.index_of[pk] for pk in avoids if pk in tenant.index_of]
            avoided = sorted(name for _, name in avoids.values())
            extra = [
                np.array([tenant.index_of[i] for i in r if i in tenant.index_of], dtype=np.int64)
                for r in await self.pantry.user_recipes(query.user_id)
            ]
        scores = model.scores(
            present,
            mode=mode,
            cuisine=cuisine,
            extra_recipes=[r for r in extra if len(r)],
            extra_weight=OWN_RECIPES_WEIGHT,
        ).astype(np.float64)
        allowed = np.isfinite(scores)
        allowed[present] = False
        allowed[excluded] = False
        if query.categories:
            wanted = {c.strip().lower() for c in query.categories}
            allowed &= np.array([c.lower() in wanted for c in model.categories])
        candidates = np.flatnonzero(allowed)
        top = candidates[np.argsort(-scores[candidates], kind="stable")[: query.k]]
        share: NDArray[np.float64] | None = None
        if probabilities and len(candidates):
            # Scores are a mixture of distributions over the candidates: renormalised over the
            # allowed ones, they read as "how likely this is the missing one".
            mass = np.clip(scores[candidates], 0.0, None)
            if mass.sum() > 0:
                share = np.zeros_like(scores)
                share[candidates] = mass / mass.sum()
        own = set(np.concatenate(extra).tolist()) if extra else set()
        items = [self._suggestion(tenant, int(c), present, mode, float(scores[c]), own, share) for c in top]
        return Suggestions(items=items, mode=mode, model_version=version, unscored=unscored, avoided=avoided)

    def _suggestion(
        self,
        tenant: TenantPairing,
        c: int,
        present: list[int],
        mode: Mode,
        score: float,
        own: set[int],
        share: NDArray[np.float64] | None,
    ) -> Suggestion:
        model = tenant.model
        names = model.ingredients
        together = sorted(
            ((names[p], int(model.cooccurrence[c, p])) for p in present if model.cooccurrence[c, p] > 0),
            key=lambda t: -t[1],
        )[:3]
        shared = sorted(
            (
                (names[p], int(model.shared_compounds[c, p]))
                for p in present
                if model.shared_compounds[c, p] > 0
            ),
            key=lambda t: -t[1],
        )[:3]
        parts: list[str] = []
        if mode != "flavor" and together:
            parts.append("cooked with " + ", ".join(f"{n} in {k:,} recipes" for n, k in together))
        if mode != "recipe" and shared:
            parts.append("shares flavor compounds with " + ", ".join(f"{n} ({k})" for n, k in shared))
        if c in own:
            parts.append("in your own recipes")
        if not parts:
            parts.append(f"common in this tenant's recipes ({int(model.popularity[c]):,})")
        return Suggestion(
            name=names[c],
            category=model.categories[c],
            score=round(score, 6),
            reason="; ".join(parts),
            with_=together,
            shared_compounds=shared,
            probability=None if share is None else round(float(share[c]), 6),
        )

    async def check(self, names: Sequence[str], user_id: int | None) -> CheckResult:
        rows = await self._resolve(names, "ingredients")
        tenant, version = self._tenant()
        model = tenant.model
        unique: dict[int, IngredientRef] = {r.id: r for r in rows}
        avoid: list[tuple[str, str]] = []
        if user_id is not None:
            avoids = await self.pantry.avoidances(user_id)
            avoid = [(avoids[pk][1], avoids[pk][0]) for pk in unique if pk in avoids]
        indexed = [tenant.index_of[pk] for pk in unique if pk in tenant.index_of]
        unscored = [r.name for pk, r in unique.items() if pk not in tenant.index_of]
        pairs = list(combinations(indexed, 2))
        checks: list[PairCheck] = []
        if pairs:
            a = np.array([p[0] for p in pairs], dtype=np.int64)
            b = np.array([p[1] for p in pairs], dtype=np.int64)
            compat = model.compatibility(a, b)
            for (i, j), s in zip(pairs, compat.tolist(), strict=True):
                checks.append(self._pair(tenant, i, j, float(s)))
        checks.sort(key=lambda p: p.score)
        mean = round(float(np.mean([p.score for p in checks])), 6) if checks else None
        return CheckResult(score=mean, pairs=checks, avoid=avoid, model_version=version, unscored=unscored)

    def _pair(self, tenant: TenantPairing, i: int, j: int, score: float) -> PairCheck:
        model = tenant.model
        together = int(model.cooccurrence[i, j])
        expected = float(model.popularity[i]) * float(model.popularity[j]) / max(tenant.n_recipes, 1)
        shared = int(model.shared_compounds[i, j])
        has_compounds = bool(model.shared_compounds[i, i] > 0 and model.shared_compounds[j, j] > 0)
        advise = score < ADVISE_BELOW
        why: list[str] = []
        if advise:
            if together == 0 and expected >= MIN_EXPECTED:
                why.append(f"never together in {tenant.n_recipes:,} recipes, though {expected:.0f} expected")
            elif expected >= MIN_EXPECTED and together < expected / 2:
                why.append(
                    f"rarely together ({together:,} recipes) despite being common ({expected:.0f} expected)"
                )
            elif together == 0:
                why.append("never seen together")
            else:
                why.append(
                    f"together less often than their popularity predicts ({together} vs {expected:.1f})"
                )
            if has_compounds and shared == 0:
                why.append("no shared flavor compounds")
        return PairCheck(
            a=model.ingredients[i],
            b=model.ingredients[j],
            score=round(score, 6) if math.isfinite(score) else -1e9,
            together=together,
            expected=round(expected, 3),
            shared_compounds=shared,
            advise_against=advise,
            why=why,
        )
