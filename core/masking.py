"""Masking schedules: the truncated-normal training ratio and the cosine generation schedule."""

from __future__ import annotations

import math

import numpy as np


MASK_SCHEDULES = ("mar", "cosine")


def training_mask(batch: int, n: int, generator, full_share: float = 0.0, schedule: str = "mar"):
    """(B, N) float mask, 1 = masked: a ratio per example, then 1.0 (every token hidden, as at a
    one-step generation) for a `full_share` of the examples.

    "mar": ratio ~ truncnorm(1.0, 0.25, [0.7, 1.0]) (MAR). "cosine": ratio = cos(pi/2 u), u ~ U[0, 1),
    the hidden share at a uniformly drawn step of the cosine generation schedule: with K > 1 most
    tokens are revealed while less than 70% are hidden, a state MAR's ratio never trains.
    """
    import torch  # the generation path imports this module without torch

    if schedule not in MASK_SCHEDULES:
        raise ValueError(f"mask schedule must be one of {MASK_SCHEDULES}, not {schedule!r}")
    if schedule == "cosine":
        ratios = torch.cos(math.pi / 2 * torch.rand(batch, generator=generator))
    else:
        ratios = torch.empty(batch)
        for i in range(batch):  # rejection sampling keeps the draw exact and generator-driven
            while True:
                r = 1.0 + 0.25 * torch.randn((), generator=generator).item()
                if 0.7 <= r <= 1.0:
                    ratios[i] = r
                    break
    if full_share > 0:  # drawn only when asked for, so earlier runs resume on the same stream
        ratios[torch.rand(batch, generator=generator) < full_share] = 1.0
    counts = torch.ceil(ratios * n).clamp(1, n).long()
    order = torch.argsort(torch.rand(batch, n, generator=generator), dim=1)
    ranks = torch.argsort(order, dim=1)
    return (ranks < counts[:, None]).float()


def masked_after(step: int, steps: int, n: int) -> int:
    """Tokens still masked after generation step `step` (0-based) of `steps`: N cos(pi/2 (k+1)/K)."""
    return int(math.floor(n * math.cos(math.pi / 2 * (step + 1) / steps)))


def reveal_counts(steps: int, n: int, anchors: int = 0) -> list[int]:
    """How many tokens each of the K steps reveals: >= 1 each, all N by the last step (K <= N).

    With `anchors` A (and K >= 2) the first step reveals A tokens and the other K - 1 steps follow
    the cosine schedule over the rest: a few tokens drawn first that every later token can take its
    sound from, where one-by-one draws mix sounds (README, "The default model").
    """
    if anchors and steps >= 2 and anchors < n:
        return [anchors] + reveal_counts(steps - 1, n - anchors)
    steps = min(steps, n)
    counts, unknown = [], n
    for k in range(steps):
        if k == steps - 1:
            left = 0
        else:
            # At least one revealed per step, at least one left for the steps after.
            left = max(min(masked_after(k, steps, n), unknown - 1), 0)
        counts.append(unknown - left)
        unknown = left
    return counts


def cfg_scale(cfg: float, revealed: int, n: int) -> float:
    """Guidance that grows linearly with the share of revealed tokens: 1 + (cfg - 1) revealed / N."""
    return 1.0 + (cfg - 1.0) * revealed / n


def cfg_schedule(cfg: float, steps: int, n: int, anchors: int = 0) -> list[float]:
    """The guidance scale of each of the K steps, counting the tokens revealed once the step is done.

    As MAR's sampler does (its mask length is the next round's), so the last step gets the full
    scale and a one-step generation is guided; counting only the tokens revealed before the step
    left K = 1 unguided whatever cfg was asked for.
    """
    scales, revealed = [], 0
    for count in reveal_counts(steps, n, anchors):
        revealed += count
        scales.append(cfg_scale(cfg, revealed, n))
    return scales


def guidance_weights(scale: float, rows: tuple[int, ...] = (1, 2)) -> np.ndarray:
    """The step's `guidance` input: weights of the conditional and unconditional backbone rows.

    At scale 1 the unconditional row has weight 0, so a step that accepts one row skips it (half the
    backbone's work at the default cfg 1); otherwise, or where a step has a fixed two rows
    (ExecuTorch bundles of converter 14), [scale, 1 - scale]: the two rows batched in one pass,
    mixed before the head.
    """
    if scale == 1.0 and 1 in rows:
        return np.ones(1, np.float32)
    return np.array([scale, 1.0 - scale], np.float32)


def random_orders(rng: np.random.Generator, batch: int, n: int) -> np.ndarray:
    """One random generation order per example, from the shared numpy stream."""
    return np.stack([rng.permutation(n) for _ in range(batch)])
