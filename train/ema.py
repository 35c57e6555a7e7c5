"""An exponential moving average of a model's trainable weights, exported in place of the raw ones."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn


class WeightAverage:
    """Keeps ema = d * ema + (1 - d) * w after every optimizer step, d warming up as (1 + s) / (10 + s).

    MAR and EAR sample from such an average: with batches of 16 the last step's weights carry the
    last few batches' noise, and the average smooths it out at no cost to the step.
    """

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.params = {name: p for name, p in model.named_parameters() if p.requires_grad}
        self.average = {name: p.detach().clone() for name, p in self.params.items()}

    @torch.no_grad()
    def update(self, step: int) -> None:
        """Fold in the weights after optimizer step `step` (counted from 1)."""
        # The warm-up keeps a short run's average from clinging to its random initial weights.
        decay = min(self.decay, (1 + step) / (10 + step))
        for name, p in self.params.items():
            self.average[name].lerp_(p.detach(), 1.0 - decay)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {name: t.contiguous() for name, t in self.average.items()}

    @torch.no_grad()
    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        if set(tensors) != set(self.average):
            raise ValueError("the stored weight average does not match this model's trainable weights")
        for name, t in tensors.items():
            self.average[name].copy_(t)

    @contextmanager
    @torch.no_grad()
    def applied(self) -> Iterator[None]:
        """The model holds the average inside the block and its own weights again after it."""
        raw = {name: p.detach().clone() for name, p in self.params.items()}
        for name, p in self.params.items():
            p.copy_(self.average[name])
        try:
            yield
        finally:
            for name, p in self.params.items():
                p.copy_(raw[name])
