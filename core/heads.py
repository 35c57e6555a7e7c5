"""Per-token heads: the teacher's diffusion MLP and the student's one-step energy-score MLP."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class AdaLNBlock(nn.Module):
    """h + gate(c) * MLP((1 + scale(c)) * LN(h) + shift(c)), modulation zero-initialised."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 3 * width))
        nn.init.zeros_(self.modulation[1].weight)
        nn.init.zeros_(self.modulation[1].bias)

    def forward(self, h: torch.Tensor, c: torch.Tensor, shift_scale: float | torch.Tensor = 1.0) -> torch.Tensor:
        shift, scale, gate = self.modulation(c).chunk(3, dim=-1)
        return h + gate * self.mlp(modulate(self.norm(h), shift * shift_scale, scale))


class FinalLayer(nn.Module):
    """AdaLN then a zero-initialised linear map to the token dimension."""

    def __init__(self, width: int, out_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))
        self.linear = nn.Linear(width, out_dim)
        for layer in (self.modulation[1], self.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, h: torch.Tensor, c: torch.Tensor, shift_scale: float | torch.Tensor = 1.0) -> torch.Tensor:
        shift, scale = self.modulation(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(h), shift * shift_scale, scale))


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of (possibly fractional) diffusion timesteps."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[..., None] * freqs
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class DiffusionHead(nn.Module):
    """MAR's diffusion MLP: predicts the noise eps in x_t given the timestep t and condition z."""

    def __init__(self, token_dim: int, cond_dim: int, width: int, depth: int):
        super().__init__()
        self.width = width
        self.time_embed = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.cond_embed = nn.Linear(cond_dim, width)
        self.input_proj = nn.Linear(token_dim, width)
        self.blocks = nn.ModuleList(AdaLNBlock(width) for _ in range(depth))
        self.final = FinalLayer(width, token_dim)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        c = self.time_embed(timestep_embedding(t, self.width)) + self.cond_embed(z)
        h = self.input_proj(x_t)
        for block in self.blocks:
            h = block(h, c)
        return self.final(h, c)


class EnergyHead(nn.Module):
    """EAR's energy-score MLP: maps noise eps ~ U[-0.5, 0.5]^noise_dim and z to a token in one pass.

    The residual stream starts from a projection of z; the noise drives every AdaLN modulation.
    Temperature scales only the shift terms (scaling the noise itself corrupts samples).
    """

    def __init__(self, token_dim: int, cond_dim: int, width: int, depth: int, noise_dim: int):
        super().__init__()
        self.noise_dim = noise_dim
        self.noise_embed = nn.Sequential(nn.Linear(noise_dim, width), nn.SiLU(), nn.Linear(width, width))
        self.cond_proj = nn.Linear(cond_dim, width)
        self.blocks = nn.ModuleList(AdaLNBlock(width) for _ in range(depth))
        self.final = FinalLayer(width, token_dim)

    def forward(self, z: torch.Tensor, noise: torch.Tensor, temperature: float | torch.Tensor = 1.0) -> torch.Tensor:
        c = self.noise_embed(noise)
        h = self.cond_proj(z)
        for block in self.blocks:
            h = block(h, c, temperature)
        return self.final(h, c, temperature)


def energy_score_loss(x1: torch.Tensor, x2: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                      alpha: float = 1.0, tau: float = 1.0) -> torch.Tensor:
    """||x1 - y||^a + ||x2 - y||^a - tau ||x1 - x2||^a, averaged over (weighted) positions.

    A strictly proper scoring rule for 0 < alpha < 2 and tau = 1: minimised only by the data distribution.
    """
    def norm(v):
        # The epsilon keeps the gradient of ||.|| finite at 0.
        return (v.pow(2).sum(-1) + 1e-8).pow(alpha / 2)

    score = norm(x1 - target) + norm(x2 - target) - tau * norm(x1 - x2)
    if weight is None:
        return score.mean()
    return (score * weight).sum() / weight.sum().clamp_min(1.0)


def diffusion_loss(predicted: torch.Tensor, noise: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """MSE between predicted and true noise, averaged over (weighted) positions."""
    err = (predicted - noise).pow(2).mean(-1)
    if weight is None:
        return err.mean()
    return (err * weight).sum() / weight.sum().clamp_min(1.0)


__all__ = ["DiffusionHead", "EnergyHead", "energy_score_loss", "diffusion_loss", "F"]
