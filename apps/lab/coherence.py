"""Real training tokens arranged three ways: how much of the hit-rate needs tokens that belong together.

For each test clip, latent tokens of training clips of its category go through the model's decoder:
- "clip": one training clip, whole (tiled to the length): what a generator reproducing a coherent clip gets;
- "shuffled": that same clip's tokens in a random order: the right content without its order in time;
- "mixed": every position takes a token of a random clip of the category: what a sampler drawing
  each token on its own from the category's true token distribution scores. A student at K = 1
  samples that way: every token is hidden, so each position is drawn by the head alone.
- "runs of L" (optional): the clip built from runs of L consecutive tokens, each run from a random
  clip and place of the category: what that sampler would score if a token were L times longer.
"""

from __future__ import annotations

import zlib

import numpy as np

ARRANGEMENTS = {
    "clip": "a training clip of the category",
    "shuffled": "that training clip, tokens shuffled in time",
    "mixed": "tokens mixed across the category",
}


def category_pools(encode, clips) -> dict[str, list[np.ndarray]]:
    """Category -> the (N_i, token_dim) tokens of each of its clips; `encode` maps a clip to its tokens."""
    pools: dict[str, list[np.ndarray]] = {}
    for clip in clips:
        pools.setdefault(clip.category, []).append(encode(clip))
    return pools


def tiled(tokens: np.ndarray, n: int) -> np.ndarray:
    """The first n tokens of the clip repeated end to end (short clips loop, as a generator's would not stop)."""
    return np.concatenate([tokens] * -(-n // len(tokens)))[:n]


def arrange(pool: list[np.ndarray], n: int, seed: int, item_id: str) -> dict[str, np.ndarray]:
    """The three (n, token_dim) arrangements for one test clip; fixed by (seed, item id), whatever the order."""
    rng = np.random.default_rng([seed, zlib.crc32(item_id.encode())])
    clip = tiled(pool[int(rng.integers(len(pool)))], n)
    lengths = np.array([len(tokens) for tokens in pool])
    sources = rng.integers(len(pool), size=n)
    positions = (rng.random(n) * lengths[sources]).astype(int)
    mixed = np.stack([pool[s][p] for s, p in zip(sources, positions)])
    return {"clip": clip, "shuffled": clip[rng.permutation(n)], "mixed": mixed}


def run_label(length: int) -> str:
    return f"runs of {length} tokens mixed across the category"


def arrange_runs(pool: list[np.ndarray], n: int, length: int, seed: int, item_id: str) -> np.ndarray:
    """(n, token_dim) tokens in runs of `length`, each run a random stretch of a random clip of the pool.

    Its own random stream per (seed, id, length), so adding a length leaves the other rows as they were.
    """
    rng = np.random.default_rng([seed, zlib.crc32(item_id.encode()), length])
    runs = []
    for _ in range(-(-n // length)):
        source = tiled(pool[int(rng.integers(len(pool)))], length)  # a clip shorter than a run loops
        start = int(rng.integers(len(source) - length + 1))
        runs.append(source[start:start + length])
    return np.concatenate(runs)[:n]
