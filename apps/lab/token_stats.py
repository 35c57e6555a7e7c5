"""Clip statistics in the codec's token space: does a clip hold one sound, and does that sound follow the prompt?

Both real and generated audio go through the same model's encoder, so the rows compare like with like:
- within-clip std: how far a clip's tokens swing around its own mean (per channel, averaged);
- clip-mean share: the variance of clip means across clips over the variance of all tokens. Real clips
  differ from each other more than within themselves; a sampler that draws every token alone from one
  broad distribution gives clips that all sound alike on average, and a small share;
- category accuracy: the nearest category centroid (clip means of real training clips, standardised
  per channel) of each clip's mean, against the category of the caption it was made from.
No judge is involved: a cheap check of what the hit-rate alone does not say.
"""

from __future__ import annotations

import numpy as np


def clip_statistics(clips: list[np.ndarray]) -> dict:
    """Within-clip std and the clip means' share of the token variance, over (N_i, D) token arrays."""
    if len(clips) < 2:
        raise ValueError("clip statistics need at least two clips")
    means = np.stack([c.mean(0) for c in clips])
    total = float(np.concatenate(clips).var(0).sum())
    return {"within_clip_std": float(np.mean([c.std(0).mean() for c in clips])),
            "clip_mean_share": float(means.var(0).sum() / max(total, 1e-12)),
            "clip_mean_spread": float(means.std(0).mean())}


class CategoryCentroids:
    """Nearest category centroid of standardised clip-mean tokens, fitted to real clips."""

    def __init__(self, means: np.ndarray, categories: list[str]):
        self.center, self.scale = means.mean(0), means.std(0) + 1e-6
        labels = np.asarray(categories)
        self.names = sorted(set(categories))
        self.centroids = np.stack([self._standard(means[labels == name]).mean(0) for name in self.names])

    def _standard(self, means: np.ndarray) -> np.ndarray:
        return (means - self.center) / self.scale

    def predict(self, means: np.ndarray) -> list[str]:
        distances = ((self._standard(means)[:, None] - self.centroids[None]) ** 2).sum(-1)
        return [self.names[i] for i in distances.argmin(1)]

    def accuracy(self, means: np.ndarray, categories: list[str]) -> float:
        return float(np.mean([p == c for p, c in zip(self.predict(means), categories)]))


def row(name: str, clips: list[np.ndarray], categories: list[str], centroids: CategoryCentroids) -> dict:
    """One table row: the clip statistics plus the category accuracy of the clip means."""
    means = np.stack([c.mean(0) for c in clips])
    return {"system": name, "clips": len(clips), **clip_statistics(clips),
            "category_accuracy": centroids.accuracy(means, categories)}


def markdown(rows: list[dict], chance: float) -> str:
    """The rows as a markdown table, with the centroid test's chance level below it."""
    lines = ["| system | clips | within-clip std | clip-mean share of variance | clip means' category accuracy |",
             "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['system']} | {r['clips']} | {r['within_clip_std']:.3f} | {100 * r['clip_mean_share']:.1f}% | "
                     f"{100 * r['category_accuracy']:.1f}% |")
    lines.append(f"\nCategory accuracy: nearest centroid of real training clips' mean tokens (chance {100 * chance:.1f}%).")
    return "\n".join(lines)
