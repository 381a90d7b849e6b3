"""Offline evaluation of per-user preference latents on a semi-synthetic persona population (PAL).

Population, built the way PAL's Persona set is: each chosen persona file holds statements that do
or do not match its behaviour. A user *type* is a random combination of agreeing or disagreeing
with each chosen dimension (all 2^D combinations when there are at most ``--types``, else that
many distinct random ones). A statement scores +1 for a type when the type agrees with the
statement's dimension and the statement matches it (or disagrees and it does not), else -1. A
user's comparison pairs a +1 statement with a -1 statement and prefers the +1 one, the label
flipped with probability ``--noise``. The model sees only the statements' text.

Protocol: the population model is trained by ``train_population`` (the re-index job's code) on
the seen users' comparisons; each unseen user is then fitted by ``PreferenceModel.fit`` (the API's
code) from their first n = 0, 2, 4, 8, 16 comparisons and scored on 50 held-out comparisons.
Baselines: one global Bradley-Terry (logistic) reward over the same embeddings, trained on every
seen user's comparisons, and the oracle that knows each user's type. Active learning: from a pool
of 40 statements, ``PreferenceModel.next_query`` picks each next comparison; as the like-for-like
baseline, random pairs from the same pool are put to the same user. (The n-comparison figures
above are pairs the user made of one statement their type likes and one it dislikes: chosen with
knowledge of the type, which no query strategy has, so they are a harder bar.) To show what is
reachable at all, an *ideal learner* that knows every statement's dimension and match and the
noise rate (only the user's type is unknown) is run on the same users: exact Bayes over the types,
with the same three ways of getting comparisons.

    python eval/preferences.py --data DIR [--dims a,b,c] [--seed S] [--types T]

Progress goes to stderr, a table to stdout, and the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from persona_api.kernel.embed import MiniLMEmbedder
from persona_api.preferences.latent import Evidence, Latent, binary_entropy
from persona_api.preferences.model import PreferenceModel
from persona_api.preferences.training import train_population
from persona_api.preferences.training_inputs import Comparisons, TrainConfig

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "anthropic-persona"
SHOTS = (0, 2, 4, 8, 16)
HELD_OUT = 50
POOL = 40
ACTIVE_STEPS = 8
BUDGET = 5
"""The questions active queries are given to match the user's own 8 comparisons (the target)."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Statements:
    text: list[str]
    dim: NDArray[np.int64]
    matches: NDArray[np.int64]
    """+1 if the statement matches its dimension's behaviour, -1 if not."""
    names: list[str]


def read_statements(folder: Path, dims: list[str] | None) -> Statements:
    files = sorted(folder.glob("*.jsonl"))
    names = dims if dims else [f.stem for f in files]
    text: list[str] = []
    dim: list[int] = []
    matches: list[int] = []
    for d, name in enumerate(names):
        path = folder / f"{name}.jsonl"
        if not path.is_file():
            raise SystemExit(f"no persona file {path}")
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            text.append(row["statement"])
            dim.append(d)
            matches.append(1 if row["answer_matching_behavior"].strip() == "Yes" else -1)
    return Statements(text, np.array(dim), np.array(matches), names)


def embed(texts: list[str], cache: Path) -> NDArray[np.float32]:
    """MiniLM embeddings, cached on disk by the texts' hash (they take ~35 s for 14,000)."""
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache / f"persona-{key}.npy"
    if path.is_file():
        cached: NDArray[np.float32] = np.load(path, allow_pickle=False)
        return cached
    log(f"embedding {len(texts)} statements")
    vectors = MiniLMEmbedder().encode(texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def make_types(n_dims: int, max_types: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """Sign vectors (+1 agree, -1 disagree) over the dimensions, all of them or a random subset."""
    if n_dims >= 62:
        raise SystemExit("too many dimensions")
    if 2**n_dims <= max_types:
        codes = np.arange(2**n_dims)
    else:
        codes = rng.choice(2**n_dims, size=max_types, replace=False)
    return np.array([[1 if (c >> d) & 1 else -1 for d in range(n_dims)] for c in codes], dtype=np.int64)


class User:
    """A simulated user of one type, answering comparisons with label noise."""

    def __init__(
        self, kind: NDArray[np.int64], s: Statements, noise: float, rng: np.random.Generator
    ) -> None:
        self.score = kind[s.dim] * s.matches
        self.good = np.flatnonzero(self.score > 0)
        self.bad = np.flatnonzero(self.score < 0)
        self.noise = noise
        self.rng = rng

    def answer(self, a: int, b: int) -> tuple[int, int]:
        """(chosen, rejected) for statements a and b; a coin flip when they score the same."""
        if self.score[a] == self.score[b]:
            prefers_a = bool(self.rng.random() < 0.5)
        else:
            prefers_a = bool(self.score[a] > self.score[b]) != bool(self.rng.random() < self.noise)
        return (a, b) if prefers_a else (b, a)

    def flipped(self, answers: list[tuple[int, int]]) -> bool:
        """Whether any of these answers went against the user's type (label noise)."""
        return any(self.score[c] < self.score[r] for c, r in answers)

    def sample(self, n: int) -> NDArray[np.int64]:
        """n comparisons (chosen, rejected) between a +1 and a -1 statement."""
        good = self.rng.choice(self.good, size=n)
        bad = self.rng.choice(self.bad, size=n)
        return np.array([self.answer(int(g), int(b)) for g, b in zip(good, bad, strict=True)], dtype=np.int64)


def key(statement: int) -> str:
    """The option key of a statement (the service keys options by a hash; any stable name works)."""
    return f"statement-{statement}"


def evidence_of(model: PreferenceModel, vectors: NDArray[np.float32], pairs: NDArray[np.int64]) -> Evidence:
    n = len(pairs)
    return model.evidence(
        vectors[pairs[:, 0]],
        vectors[pairs[:, 1]],
        np.ones(n),
        np.ones(n),
        [key(i) for i in pairs[:, 0]],
        [key(i) for i in pairs[:, 1]],
    )


def accuracy(latent: Latent, held: Evidence) -> float:
    """Share of held-out comparisons whose chosen option the latent predicts as preferred."""
    return float(np.mean(latent.preference(held) > 0.5))


def global_bradley_terry(
    vectors: NDArray[np.float32], pairs: NDArray[np.int64], l2: float = 1e-3
) -> NDArray[np.float64]:
    """One linear reward over the embeddings for everyone: logistic regression on e(x) - e(y)."""
    x = (vectors[pairs[:, 0]] - vectors[pairs[:, 1]]).astype(np.float64)
    x = np.concatenate([x, -x])
    y = np.concatenate([np.ones(len(pairs)), np.zeros(len(pairs))])
    theta = np.zeros(x.shape[1])
    for _ in range(30):
        p = 1.0 / (1.0 + np.exp(-(x @ theta)))
        gradient = x.T @ (p - y) / len(y) + l2 * theta
        hessian = (x * (p * (1 - p))[:, None]).T @ x / len(y) + l2 * np.eye(len(theta))
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return theta


def _ideal_answer(scores: NDArray[np.int64], chosen: int, rejected: int, noise: float) -> NDArray[np.float64]:
    """Per type, the probability of this answer (the simulation's own answering rule)."""
    diff = scores[:, chosen] - scores[:, rejected]
    result: NDArray[np.float64] = np.where(diff > 0, 1.0 - noise, np.where(diff < 0, noise, 0.5))
    return result


def _ideal_accuracy(
    posterior: NDArray[np.float64], scores: NDArray[np.int64], held: NDArray[np.int64]
) -> float:
    diff = scores[:, held[:, 0]] - scores[:, held[:, 1]]
    p = np.where(diff > 0, 1.0, np.where(diff < 0, 0.0, 0.5))
    return float(np.mean(posterior @ p > 0.5))


def ideal_learner(
    scores: NDArray[np.int64],
    user: User,
    context: NDArray[np.int64],
    held: NDArray[np.int64],
    pool: NDArray[np.int64],
    noise: float,
    rng: np.random.Generator,
) -> tuple[dict[str, NDArray[np.float64]], bool]:
    """Accuracy after 1..ACTIVE_STEPS comparisons of exact Bayes over the types (``scores``:
    types x statements), given the user's own comparisons, active queries (greedy expected
    information about the type) or random pairs from the pool; and whether any of the first
    ``BUDGET`` answers to its active queries was flipped."""
    first, second = np.triu_indices(len(pool), k=1)
    answer_of_first = np.stack(
        [
            _ideal_answer(scores, int(pool[a]), int(pool[b]), noise)
            for a, b in zip(first, second, strict=True)
        ],
        axis=1,
    )
    curves = {}
    active_answers: list[tuple[int, int]] = []
    for how in ("own", "active", "pool"):
        posterior = np.full(len(scores), 1.0 / len(scores))
        curve = np.zeros(ACTIVE_STEPS)
        for step in range(ACTIVE_STEPS):
            if how == "own":
                chosen, rejected = (int(v) for v in context[step])
            else:
                if how == "active":
                    predicted = posterior @ answer_of_first
                    gain = binary_entropy(predicted) - posterior @ binary_entropy(answer_of_first)
                    q = int(np.argmax(gain))
                else:
                    q = int(rng.integers(len(first)))
                chosen, rejected = user.answer(int(pool[first[q]]), int(pool[second[q]]))
                if how == "active":
                    active_answers.append((chosen, rejected))
            posterior = posterior * _ideal_answer(scores, chosen, rejected, noise)
            posterior /= posterior.sum()
            curve[step] = _ideal_accuracy(posterior, scores, held)
        curves[how] = curve
    return curves, user.flipped(active_answers[:BUDGET])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--dims", default="", help="comma-separated persona files (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--types", type=int, default=8, help="most user types (default 8)")
    parser.add_argument("--seen-users", type=int, default=1000)
    parser.add_argument("--unseen-users", type=int, default=200)
    parser.add_argument("--per-user", type=int, default=40, help="comparisons per seen user")
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "persona-api")
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"no data at {args.data}: pass --data DIR (see ../shared/data/anthropic-persona)")

    rng = np.random.default_rng(args.seed)
    s = read_statements(args.data, [d for d in args.dims.split(",") if d] or None)
    vectors = embed(s.text, args.cache)
    types = make_types(len(s.names), args.types, rng)
    log(f"{len(s.text)} statements over {len(s.names)} dimensions, {len(types)} user types")

    # Seen users: the population the re-index job trains on.
    seen_pairs, seen_users = [], []
    for u in range(args.seen_users):
        user = User(types[rng.integers(len(types))], s, args.noise, rng)
        pairs = user.sample(args.per_user)
        seen_pairs.append(pairs)
        seen_users.append(np.full(len(pairs), u))
    pairs = np.concatenate(seen_pairs)
    n = len(pairs)
    data = Comparisons(
        options=vectors,
        keys=[key(i) for i in range(len(vectors))],
        user=np.concatenate(seen_users),
        chosen=pairs[:, 0],
        rejected=pairs[:, 1],
        target=np.ones(n),
        weight=np.ones(n),
    )
    started = time.perf_counter()
    model = train_population(data, "eval", TrainConfig(seed=args.seed), progress=log)
    train_seconds = time.perf_counter() - started
    theta = global_bradley_terry(vectors, pairs)

    acc: dict[int, list[float]] = {k: [] for k in SHOTS}
    oracle, global_acc, fit_ms = [], [], []
    active_curve = np.zeros(ACTIVE_STEPS + 1)
    pool_curve = np.zeros(ACTIVE_STEPS + 1)
    ideal = {how: np.zeros(ACTIVE_STEPS) for how in ("own", "active", "pool")}
    # Accuracy after BUDGET active queries, by learner and by whether an answer among them was flipped.
    at_budget: dict[tuple[str, bool], list[float]] = {}
    type_scores = types[:, s.dim] * s.matches[None, :]
    for _ in range(args.unseen_users):
        kind = types[rng.integers(len(types))]
        user = User(kind, s, args.noise, rng)
        context, held_pairs = user.sample(max(SHOTS)), user.sample(HELD_OUT)
        held = evidence_of(model, vectors, held_pairs)
        oracle.append(float(np.mean(user.score[held_pairs[:, 0]] > user.score[held_pairs[:, 1]])))
        diff = vectors[held_pairs[:, 0]] - vectors[held_pairs[:, 1]]
        global_acc.append(float(np.mean(diff @ theta > 0)))
        for k in SHOTS:
            acc[k].append(accuracy(model.fit(evidence_of(model, vectors, context[:k])), held))
        # Online: one comparison arrives, the user's whole history is refitted from the last mode.
        latent = model.prior()
        for k in range(1, max(SHOTS) + 1):
            t0 = time.perf_counter()
            latent = model.fit(evidence_of(model, vectors, context[:k]), start=latent)
            fit_ms.append((time.perf_counter() - t0) * 1000)
        # Active: the model picks each next pair from a pool of statements.
        pool = rng.choice(len(s.text), size=POOL, replace=False)
        asked: list[tuple[int, int]] = []
        latent = model.prior()
        active_curve[0] += accuracy(latent, held)
        for step in range(1, ACTIVE_STEPS + 1):
            query = model.next_query(latent, vectors[pool], [key(i) for i in pool])
            asked.append(user.answer(int(pool[query.first]), int(pool[query.second])))
            latent = model.fit(evidence_of(model, vectors, np.array(asked)), start=latent)
            score = accuracy(latent, held)
            active_curve[step] += score
            if step == BUDGET:
                at_budget.setdefault(("model", user.flipped(asked)), []).append(score)
        # Like for like: random pairs from the same pool, answered by the same user.
        asked, latent = [], model.prior()
        pool_curve[0] += accuracy(latent, held)
        for step in range(1, ACTIVE_STEPS + 1):
            a, b = rng.choice(pool, size=2, replace=False)
            asked.append(user.answer(int(a), int(b)))
            latent = model.fit(evidence_of(model, vectors, np.array(asked)), start=latent)
            pool_curve[step] += accuracy(latent, held)
        curves, flipped = ideal_learner(type_scores, user, context, held_pairs, pool, args.noise, rng)
        for how, curve in curves.items():
            ideal[how] += curve
        at_budget.setdefault(("ideal", flipped), []).append(float(curves["active"][BUDGET - 1]))
    active_curve /= args.unseen_users
    pool_curve /= args.unseen_users
    ideal = {how: curve / args.unseen_users for how, curve in ideal.items()}

    means = {k: float(np.mean(v)) for k, v in acc.items()}
    reach = next((i for i, a in enumerate(active_curve) if a >= means[8]), None)
    print(f"dimensions: {', '.join(s.names)}; {len(types)} types; seed {args.seed}")
    scale = model.report["prior_scale"]
    print(f"population model: K={model.k}, prior x{scale}, trained in {train_seconds:.1f} s")
    print("| comparisons | unseen-user accuracy |")
    print("|---|---|")
    for k in SHOTS:
        print(f"| {k} | {means[k]:.4f} ± {np.std(acc[k]) / np.sqrt(len(acc[k])):.4f} |")
    print(f"global Bradley-Terry: {np.mean(global_acc):.4f}; oracle (true type): {np.mean(oracle):.4f}")
    print("active queries: " + ", ".join(f"{i}: {a:.4f}" for i, a in enumerate(active_curve)))
    print("random pairs from the same pool: " + ", ".join(f"{i}: {a:.4f}" for i, a in enumerate(pool_curve)))
    print(f"active queries reaching the accuracy of the user's own 8 comparisons: {reach}")
    pool_reach = next((i for i, a in enumerate(active_curve) if a >= pool_curve[8]), None)
    print(f"active queries reaching the accuracy of 8 random pairs from the pool: {pool_reach}")
    for how, label in (
        ("own", "own comparisons"),
        ("active", "active queries"),
        ("pool", "random pool pairs"),
    ):
        cells = ", ".join(f"{i + 1}: {a:.4f}" for i, a in enumerate(ideal[how]))
        print(f"ideal learner (knows the statements, not the type), {label}: {cells}")
    ideal_reach = next((i + 1 for i, a in enumerate(ideal["active"]) if a >= ideal["own"][7]), None)
    print(f"ideal learner's active queries reaching its own-8 accuracy: {ideal_reach}")
    # How many users get a flipped answer is luck, and it moves the mean a lot: weighting the two
    # groups by the share the noise rate implies gives the expectation with that luck taken out.
    share = 1.0 - (1.0 - args.noise) ** BUDGET
    expected = {}
    for learner in ("model", "ideal"):
        clean, noisy = (at_budget.get((learner, f), []) for f in (False, True))
        print(
            f"{learner} after {BUDGET} active queries: users with no flipped answer "
            f"{np.mean(clean) if clean else float('nan'):.4f} ({len(clean)} users), with one or more "
            f"{np.mean(noisy) if noisy else float('nan'):.4f} ({len(noisy)} users)"
        )
        if clean and noisy:
            expected[learner] = (1.0 - share) * float(np.mean(clean)) + share * float(np.mean(noisy))
    cells = ", ".join(f"{learner} {value:.4f}" for learner, value in expected.items())
    print(f"expected after {BUDGET} active queries, {share:.1%} of users with a flipped answer: {cells}")
    print(
        f"online update (refit of the whole history): p50 {np.percentile(fit_ms, 50):.3f} ms, "
        f"p95 {np.percentile(fit_ms, 95):.3f} ms"
    )
    result = {f"acc@{k}": round(means[k], 4) for k in SHOTS}
    result.update(
        {
            "global_bt": round(float(np.mean(global_acc)), 4),
            "oracle": round(float(np.mean(oracle)), 4),
            "fit_ms_p95": round(float(np.percentile(fit_ms, 95)), 4),
        }
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
