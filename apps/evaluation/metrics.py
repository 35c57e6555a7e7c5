"""FAD, KL, IS and class hit-rate over the judge's outputs (numpy only)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

EPS = 1e-10  # keeps log() finite for classes a clip gives (numerically) zero probability


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of `a` [n, d] and `b` [m, d].

    tr(sqrt(S_a S_b)) is computed as the sum of sqrt-eigenvalues of sqrt(S_a) S_b sqrt(S_a),
    which is symmetric PSD: stabler and faster than a general matrix square root.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Fréchet distance needs at least two embeddings per set")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    lam, vec = np.linalg.eigh(cov_a)
    root_a = (vec * np.sqrt(np.clip(lam, 0, None))) @ vec.T
    middle = root_a @ cov_b @ root_a
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    value = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt
    return float(max(value, 0.0))


def kl_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p || q) along the last axis, both renormalised to sum to one."""
    p = np.asarray(p, np.float64) + EPS
    q = np.asarray(q, np.float64) + EPS
    p /= p.sum(axis=-1, keepdims=True)
    q /= q.sum(axis=-1, keepdims=True)
    return (p * (np.log(p) - np.log(q))).sum(axis=-1)


def paired_kl(reference: np.ndarray, generated: np.ndarray) -> float:
    """Mean KL(reference_i || generated_i) over pairs (the AudioCaps direction)."""
    reference, generated = np.asarray(reference), np.asarray(generated)
    if reference.shape != generated.shape or len(reference) == 0:
        raise ValueError("paired KL needs two equally long, non-empty sets of distributions")
    return float(kl_divergence(reference, generated).mean())


def inception_score(distributions: np.ndarray) -> float:
    """exp(E_x KL(p(y|x) || p(y))) over the rows of `distributions` [n, classes]."""
    p = np.asarray(distributions, np.float64)
    if len(p) == 0:
        raise ValueError("the inception score needs at least one distribution")
    p = p / p.sum(axis=1, keepdims=True)
    marginal = p.mean(axis=0, keepdims=True)
    return float(np.exp(kl_divergence(p, marginal).mean()))


def top_k(scores: np.ndarray, class_names: Sequence[str], k: int = 5) -> list[str]:
    """Names of the k highest-scoring classes (stable order for ties)."""
    order = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return [class_names[i] for i in order]


def _wanted(accepted: Callable[[str], Iterable[str]], category: str) -> set[str]:
    """The lower-cased classes a category accepts; none for a category the map does not know."""
    try:
        return {c.lower() for c in accepted(category)}
    except (KeyError, ValueError):
        return set()


def shuffled_hit_rate(top_classes: Sequence[Sequence[str]], categories: Sequence[str],
                      accepted: Callable[[str], Iterable[str]]) -> float | None:
    """The hit-rate the same clips get when each is scored against every other clip's category in turn.

    What a clip earns whatever it was prompted with: a generator that makes one sound for every
    prompt scores the same here as with its own prompts, one that follows its prompts far less.
    Clips and categories the map does not know are left out, as in hit_rate.
    """
    wanted = [_wanted(accepted, category) for category in categories]
    names = [{n.lower() for n in top} for top in top_classes]
    scored = [i for i, w in enumerate(wanted) if w]
    if len(scored) < 2:
        return None
    rates = [sum(bool(names[i] & wanted[j]) for j in scored if j != i) / (len(scored) - 1) for i in scored]
    return float(np.mean(rates))


def hit_rate(top_classes: Iterable[Sequence[str]], categories: Iterable[str],
             accepted: Callable[[str], Iterable[str]]) -> tuple[float | None, dict]:
    """Share of clips whose top classes meet their category's accepted set, overall and per category.

    Clips whose category accepts no class are left out rather than counted as misses, so an
    unmapped category cannot drag the figure down; per-category counts show what was scored.
    """
    per: dict[str, list[int]] = {}
    for names, category in zip(top_classes, categories):
        wanted = _wanted(accepted, category)
        if not wanted:
            continue
        counts = per.setdefault(category, [0, 0])
        counts[0] += any(n.lower() in wanted for n in names)
        counts[1] += 1
    hits, total = sum(c[0] for c in per.values()), sum(c[1] for c in per.values())
    breakdown = {cat: {"hits": h, "clips": n, "rate": h / n} for cat, (h, n) in sorted(per.items())}
    return (hits / total if total else None), breakdown
