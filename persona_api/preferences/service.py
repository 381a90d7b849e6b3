"""Per-user preference latents: record comparisons, refit at once, score and query candidates.

Every change (a batch of comparisons, a deleted comparison, an objective, a new population model)
refits the user's latent from all of their comparisons, synchronously (a few Newton steps on a
K x K system: milliseconds) and appends a version to ``preference_latents``; the newest
``KEEP_VERSIONS`` are kept. A user without comparisons has the population prior. The model is the
tenant's trained one when the re-index job has built it, else :meth:`PreferenceModel.bootstrap`.
A comparison's ``context`` is stored and exported, but the model does not condition on it yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.errors import Conflict, FieldProblem, InvalidInput
from persona_api.kernel.embed import from_bytes
from persona_api.preferences.comparisons import ComparisonIn, ComparisonStore, check_batch
from persona_api.preferences.latent import Latent
from persona_api.preferences.model import PreferenceModel, Query
from persona_api.preferences.objectives import normalise_direction
from persona_api.preferences.options import OptionIn, OptionStore, Resolved, option_key
from persona_api.preferences.results import Added, CandidateScores, LatentView
from persona_api.preferences.runtime import PreferenceRuntime
from persona_api.preferences.tables import PreferenceComparison, PreferenceLatentRow
from persona_api.store.db import flush_or_conflict
from persona_api.store.outbox import emit
from persona_api.store.pages import list_and_count
from persona_api.store.tables import User

KEEP_VERSIONS = 50


class Preferences:
    """One request's view of a tenant's preference latents; writes go into the request's transaction."""

    def __init__(self, runtime: PreferenceRuntime, session: AsyncSession, tenant_id: str) -> None:
        self.runtime = runtime
        self.session = session
        self.tenant_id = tenant_id
        self.options = OptionStore(
            session, tenant_id, runtime.embedder, runtime.items, runtime.text_embeddings
        )
        self.comparisons = ComparisonStore(session, tenant_id)

    @property
    def model(self) -> PreferenceModel:
        return self.runtime.model_for(self.tenant_id)

    # ----------------------------------------------------------------------------- latents
    async def _latest(self, user_id: int) -> PreferenceLatentRow | None:
        row: PreferenceLatentRow | None = await self.session.scalar(
            select(PreferenceLatentRow)
            .where(PreferenceLatentRow.user_id == user_id)
            .order_by(PreferenceLatentRow.version.desc())
            .limit(1)
        )
        return row

    async def _refit(self, user_id: int, start: Latent | None) -> Latent:
        model = self.model
        rows = await self.comparisons.evidence(user_id)
        if not rows:
            return model.prior()
        chosen = np.stack([from_bytes(r[0]) for r in rows])
        rejected = np.stack([from_bytes(r[1]) for r in rows])
        target = np.array([0.5 if r[2] else 1.0 for r in rows])
        weight = np.array([r[3] for r in rows])
        # The keys let a trained model add what it learnt about options the population compared.
        chosen_keys, rejected_keys = [r[4] for r in rows], [r[5] for r in rows]

        def fit() -> Latent:
            evidence = model.evidence(chosen, rejected, target, weight, chosen_keys, rejected_keys)
            return model.fit(evidence, start=start)

        return await asyncio.to_thread(fit)

    async def _append(
        self,
        user_id: int,
        previous: PreferenceLatentRow | None,
        reason: str,
        objective: dict[str, float] | None,
    ) -> PreferenceLatentRow:
        """Refit and add a version (the caller commits); keeps the newest ``KEEP_VERSIONS``."""
        model = self.model
        start = None
        if previous is not None and previous.model_version == model.version:
            start = Latent.from_json(previous.latent)
        latent = await self._refit(user_id, start)
        version = (previous.version if previous is not None else 0) + 1
        row = PreferenceLatentRow(
            tenant_id=self.tenant_id,
            user_id=user_id,
            version=version,
            model_version=model.version,
            n_comparisons=latent.n_comparisons,
            latent=latent.to_json(),
            objective=objective,
            reason=reason,
        )
        self.session.add(row)
        try:
            # Flushed here, not by the DELETE's autoflush: that would raise outside this handler.
            await self.session.flush()
        except IntegrityError:
            # Another request stored this version first; the caller rolls back.
            raise Conflict("the user's preferences changed concurrently; retry") from None
        await self.session.execute(
            delete(PreferenceLatentRow).where(
                PreferenceLatentRow.user_id == user_id, PreferenceLatentRow.version <= version - KEEP_VERSIONS
            )
        )
        data = {"version": version, "n_comparisons": latent.n_comparisons, "reason": reason}
        await emit(self.session, self.tenant_id, "preferences.updated", data, user_pk=user_id)
        return row

    def _view(self, row: PreferenceLatentRow | None) -> LatentView:
        model = self.model
        if row is None:
            return LatentView(model.prior(), model, 0, None, None)
        return LatentView(Latent.from_json(row.latent), model, row.version, row.objective, row.created_at)

    async def current(self, user: User | None) -> LatentView:
        """The user's latent; refitted (and stored, reason ``model``) when a new model is served.
        ``None`` (an unknown user) and users without versions get the population prior."""
        if user is None:
            return self._view(None)
        row = await self._latest(user.id)
        if row is not None and row.model_version != self.model.version:
            row = await self._append(user.id, row, "model", row.objective)
            await flush_or_conflict(self.session, "the latent changed concurrently; retry")
        return self._view(row)

    # ----------------------------------------------------------------------------- comparisons
    async def add(self, user: User, comparisons: Sequence[ComparisonIn]) -> Added:
        """Record a batch (all or nothing) and refit. A repeated client id with the same content is a
        duplicate; with different content a 409."""
        check_batch(comparisons)
        chosen_rejected = await self.options.resolve(
            [o for c in comparisons for o in (c.chosen, c.rejected)],
            [f"comparisons[{i}].{side}" for i in range(len(comparisons)) for side in ("chosen", "rejected")],
            store=True,
        )
        existing = await self.comparisons.signatures(user.id, [c.client_id for c in comparisons])
        created = duplicates = 0
        for i, c in enumerate(comparisons):
            chosen, rejected = chosen_rejected[2 * i], chosen_rejected[2 * i + 1]
            signature = (c.context, chosen.key, rejected.key, float(c.strength), c.tie)
            if c.client_id in existing:
                if existing[c.client_id] != signature:
                    raise Conflict(f"comparison {c.client_id!r} exists with different content; use a new id")
                duplicates += 1
                continue
            self.session.add(
                PreferenceComparison(
                    tenant_id=self.tenant_id,
                    user_id=user.id,
                    client_id=c.client_id,
                    context=c.context,
                    chosen_id=chosen.id,
                    rejected_id=rejected.id,
                    strength=float(c.strength),
                    tie=c.tie,
                )
            )
            existing[c.client_id] = signature
            created += 1
        previous = await self._latest(user.id)
        row = previous
        if created or previous is None or previous.model_version != self.model.version:
            await self.session.flush()
            objective = previous.objective if previous is not None else None
            row = await self._append(user.id, previous, "comparisons", objective)
        await flush_or_conflict(self.session, "a comparison with one of these ids was added concurrently")
        return Added(created, duplicates, self._view(row))

    async def delete_comparison(self, user: User, client_id: str) -> LatentView:
        """Remove one comparison and refit (reason ``deleted``)."""
        await self.comparisons.delete(user.id, client_id)
        previous = await self._latest(user.id)
        row = await self._append(user.id, previous, "deleted", previous.objective if previous else None)
        await flush_or_conflict(self.session, "the latent changed concurrently; retry")
        return self._view(row)

    async def history(
        self, user_id: int, *, limit: int, offset: int
    ) -> tuple[list[PreferenceLatentRow], int]:
        where = PreferenceLatentRow.user_id == user_id
        order = [PreferenceLatentRow.version.desc()]
        rows, total = await list_and_count(
            self.session, PreferenceLatentRow, where, order_by=order, limit=limit, offset=offset
        )
        return list(rows), total

    # ----------------------------------------------------------------------------- objective
    async def set_objective(self, user: User, weights: dict[str, float] | None) -> LatentView:
        """Set (normalised to a unit vector) or clear (``None``) the user's objective direction."""
        direction = normalise_direction(weights) if weights is not None else None
        view = await self.current(user)
        previous = await self._latest(user.id)
        row = previous
        if previous is None or previous.objective != direction:
            row = await self._append(user.id, previous, "objective", direction)
            await flush_or_conflict(self.session, "the latent changed concurrently; retry")
        return self._view(row) if row is not None else view

    # ----------------------------------------------------------------------------- scoring
    async def score(self, user: User | None, candidates: Sequence[OptionIn]) -> CandidateScores:
        """Utility, std and mean pairwise win probability of each candidate for the user."""
        options = await self.options.resolve(
            candidates, [f"candidates[{i}]" for i in range(len(candidates))], store=False
        )
        view = await self.current(user)
        embeddings = np.stack([o.embedding for o in options])
        keys = [o.key for o in options]
        scored = await asyncio.to_thread(view.model.score, view.latent, embeddings, keys)
        objective = None
        if view.objective:
            objective = await asyncio.to_thread(self.runtime.objectives.utility, embeddings, view.objective)
        return CandidateScores(options, scored, objective, view)

    async def next_query(
        self, user: User | None, candidates: Sequence[OptionIn]
    ) -> tuple[list[Resolved], Query]:
        """The pair of candidates whose comparison is expected to tell most about the user."""
        options = await self.options.resolve(
            candidates, [f"candidates[{i}]" for i in range(len(candidates))], store=False
        )
        keys = [o.key for o in options]
        if len(set(keys)) < 2:
            raise InvalidInput(
                "next-query needs at least two different candidates",
                [FieldProblem("candidates", "all the same")],
            )
        view = await self.current(user)
        embeddings = np.stack([o.embedding for o in options])
        # Repeated candidates would make the pair (x, x): ask over distinct ones, answer in input indices.
        first_index = list(dict.fromkeys(keys))
        where = [keys.index(k) for k in first_index]
        query = await asyncio.to_thread(
            view.model.next_query, view.latent, embeddings[where], [keys[i] for i in where]
        )
        return options, Query(where[query.first], where[query.second], query.gain, query.probability)

    async def item_utilities(
        self, user: User, embeddings: NDArray[np.float32], item_ids: Sequence[str]
    ) -> NDArray[np.float64]:
        """:meth:`utilities` of catalog items, named by their external ids (see recsys.rerank)."""
        return await self.utilities(user, embeddings, [option_key("item", item) for item in item_ids])

    async def utilities(
        self, user: User, embeddings: NDArray[np.float32], keys: Sequence[str] | None = None
    ) -> NDArray[np.float64]:
        """The user's latent utility of each embedding (options named by ``keys``) plus, when set,
        their objective utility."""
        view = await self.current(user)
        scored = await asyncio.to_thread(view.model.score, view.latent, embeddings, keys)
        total = scored.utility - scored.utility.mean() if len(scored.utility) else scored.utility
        if view.objective:
            objective = await asyncio.to_thread(self.runtime.objectives.utility, embeddings, view.objective)
            total = _standardise(total) + _standardise(objective)
        return total


def _standardise(x: NDArray[np.float64]) -> NDArray[np.float64]:
    spread = float(x.std()) if len(x) else 0.0
    return (x - x.mean()) / spread if spread > 1e-12 else np.zeros_like(x)
