"""A few plain lines about a user's preferences, for the system message of an LLM.

Prototype weights mean nothing to a language model, so the latent is described by what it
predicts: the options the user compared that it ranks highest and lowest, with how sure it is,
and the objective direction in words. The lines are data: the renderer quotes them.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from persona_api.kernel.embed import from_bytes
from persona_api.preferences.service import Preferences
from persona_api.preferences.tables import PreferenceComparison, PreferenceOption
from persona_api.store.tables import User

SHOWN = 3
"""Options named on each side."""
MAX_CHARS = 160


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


async def summarize(preferences: Preferences, user: User) -> list[str]:
    """The objective direction (if set), then what the user's latent prefers and rejects."""
    view = await preferences.current(user)
    lines: list[str] = []
    if view.objective:
        ranked = sorted(view.objective.items(), key=lambda kv: -abs(kv[1]))
        wanted = ", ".join(f"{'more' if w > 0 else 'less'} {name} ({w:+.2f})" for name, w in ranked if w)
        lines.append(f"Objective direction set by the user: {wanted}.")
    n = view.latent.n_comparisons
    if n == 0:
        return lines
    used = (
        select(PreferenceComparison.chosen_id)
        .where(PreferenceComparison.user_id == user.id)
        .union(select(PreferenceComparison.rejected_id).where(PreferenceComparison.user_id == user.id))
    )
    rows = (
        await preferences.session.execute(
            select(PreferenceOption.key, PreferenceOption.text, PreferenceOption.embedding).where(
                PreferenceOption.id.in_(used)
            )
        )
    ).all()
    if len(rows) < 2:
        return lines
    embeddings = np.stack([from_bytes(blob) for _, _, blob in rows])
    scored = view.model.score(view.latent, embeddings, [key for key, _, _ in rows])
    order = np.argsort(-scored.utility, kind="stable")
    shown = min(SHOWN, len(rows) // 2)
    sure = "fairly confident" if n >= 8 else "tentative"
    lines.append(f"From {n} comparisons the user made ({sure}):")
    lines.append("Tends to prefer: " + "; ".join(_clip(rows[i][1]) for i in order[:shown]))
    lines.append("Tends to prefer less: " + "; ".join(_clip(rows[i][1]) for i in order[::-1][:shown]))
    return lines
