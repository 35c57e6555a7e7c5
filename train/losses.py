"""Codec reconstruction losses: multi-resolution STFT, log-mel L1 and the KL bottleneck term."""

from __future__ import annotations

import torch
from torch import nn

from t2a_edge.core.spectral import mel_filterbank, stft_magnitude

RESOLUTIONS = ((256, 64), (512, 128), (1024, 256), (2048, 512))


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence + log-magnitude L1, averaged over several FFT sizes."""

    def forward(self, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = predicted.new_zeros(())
        for n_fft, hop in RESOLUTIONS:
            p, t = stft_magnitude(predicted, n_fft, hop), stft_magnitude(target, n_fft, hop)
            convergence = torch.linalg.norm(t - p) / torch.linalg.norm(t).clamp_min(1e-5)
            log_l1 = (torch.log(p + 1e-5) - torch.log(t + 1e-5)).abs().mean()
            total = total + convergence + log_l1
        return total / len(RESOLUTIONS)


class MelLoss(nn.Module):
    """L1 between log-mel spectrograms (80 bands, 1024-point FFT, 10 ms hop)."""

    def __init__(self, sample_rate: int = 16_000, n_fft: int = 1024, hop: int = 160, n_mels: int = 80):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("filters", torch.tensor(mel_filterbank(n_fft, n_mels, sample_rate)), persistent=False)

    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        return torch.log(self.filters @ stft_magnitude(wave, self.n_fft, self.hop) + 1e-5)

    def forward(self, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (self.log_mel(predicted) - self.log_mel(target)).abs().mean()


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)) per latent value, averaged."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
