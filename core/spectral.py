"""Signal processing in torch for training and analysis: STFTs and a differentiable inverse STFT."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from t2a_edge.core.phase import hann


def windowed_dft(n_fft: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hann-windowed one-sided DFT rows: cos and -sin bases (bins, n_fft), and the window."""
    window = hann(n_fft)
    k = np.arange(n_fft // 2 + 1)[:, None]
    n = np.arange(n_fft)[None, :]
    return np.cos(2 * np.pi * k * n / n_fft) * window, -np.sin(2 * np.pi * k * n / n_fft) * window, window


class InverseSTFT(nn.Module):
    """Overlap-add inverse STFT as conv_transpose1d with a windowed inverse-DFT basis (training).

    The codec's waveform loss back-propagates through it from real cosine and sine parts; it matches
    torch.istft(center=True) and core.phase.PhaseRecovery.istft.
    """

    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        cos, sin, window = windowed_dft(n_fft)
        # One-sided spectrum: interior bins count twice, DC and Nyquist once.
        weight = np.full((n_fft // 2 + 1, 1), 2.0 / n_fft)
        weight[0] = weight[-1] = 1.0 / n_fft
        basis = np.concatenate([weight * cos, weight * sin])[:, None, :]  # (2 * bins, 1, n_fft)
        self.register_buffer("basis", torch.tensor(basis, dtype=torch.float32), persistent=False)
        self.register_buffer("window_sq", torch.tensor(window**2, dtype=torch.float32)[None, None],
                             persistent=False)

    def forward(self, real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:
        """(B, bins, T) real and imaginary parts -> (B, T * hop) waveform."""
        frames = torch.cat([real, imag], dim=1)
        signal = F.conv_transpose1d(frames, self.basis, stride=self.hop)
        ones = torch.ones_like(real[:, :1, :])
        envelope = F.conv_transpose1d(ones, self.window_sq, stride=self.hop)
        signal = signal / envelope.clamp_min(1e-8)
        trim = self.n_fft // 2
        length = real.shape[-1] * self.hop
        return signal[:, 0, trim:trim + length]


def stft_magnitude(wave: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """(B, samples) -> (B, n_fft // 2 + 1, frames) magnitude; training and analysis only."""
    window = torch.hann_window(n_fft, device=wave.device)
    spec = torch.stft(wave, n_fft, hop, window=window, center=True, return_complex=True)
    return spec.abs()


def stft_complex(wave: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """(B, samples) -> complex (B, bins, frames); training and analysis only."""
    window = torch.hann_window(n_fft, device=wave.device)
    return torch.stft(wave, n_fft, hop, window=window, center=True, return_complex=True)
