"""Signal processing that exports everywhere: STFT and inverse STFT as fixed convolutions."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def hann(n_fft: int) -> np.ndarray:
    """Periodic Hann window (the one that sums to a constant at 75% overlap)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float64)


def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
    """Triangular HTK-mel filters as an (n_mels, n_fft // 2 + 1) matrix."""
    fmax = fmax or sample_rate / 2
    to_mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    to_hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = to_hz(np.linspace(to_mel(fmin), to_mel(fmax), n_mels + 2))
    bins = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    lower = (bins[None, :] - edges[:-2, None]) / (edges[1:-1, None] - edges[:-2, None])
    upper = (edges[2:, None] - bins[None, :]) / (edges[2:, None] - edges[1:-1, None])
    return np.maximum(0.0, np.minimum(lower, upper)).astype(np.float32)


def windowed_dft(n_fft: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hann-windowed one-sided DFT rows: cos and -sin bases (bins, n_fft), and the window."""
    window = hann(n_fft)
    k = np.arange(n_fft // 2 + 1)[:, None]
    n = np.arange(n_fft)[None, :]
    return np.cos(2 * np.pi * k * n / n_fft) * window, -np.sin(2 * np.pi * k * n / n_fft) * window, window


class InverseSTFT(nn.Module):
    """Overlap-add inverse STFT as conv_transpose1d with a windowed inverse-DFT basis.

    torch.istft uses complex ops that no edge runtime lowers; this version is two real
    transposed convolutions and a division, and matches torch.istft(center=True).
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


class ForwardSTFT(nn.Module):
    """STFT (center=True, zero padding) as one conv1d with a windowed DFT basis: exports everywhere."""

    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        cos, sin, _ = windowed_dft(n_fft)
        basis = np.concatenate([cos, sin])[:, None, :]
        self.register_buffer("basis", torch.tensor(basis, dtype=torch.float32), persistent=False)

    def forward(self, wave: torch.Tensor, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, samples) -> real and imaginary parts (B, bins, frames) of the first `frames` frames."""
        padded = F.pad(wave[:, None, :], (self.n_fft // 2, self.n_fft // 2))
        spec = F.conv1d(padded, self.basis, stride=self.hop)[..., :frames]
        return spec.chunk(2, dim=1)


class GriffinLim(nn.Module):
    """Phase for a magnitude spectrogram: a fixed pseudo-random start, then Griffin-Lim iterations.

    Measured with the judge on 50 real test clips (true magnitudes, 640/160 STFT): random phase
    keeps an embedding cosine of 0.77, 4 iterations 0.945, 16 iterations 0.965.

    The start phase is fixed, so every backend makes the same waveform, and separable: a random
    angle per bin plus one per frame, 36 kB of constants where a full (bin, frame) table for 10 s
    took 2.6 MB of every bundle. Judge cosine after 4 iterations on true magnitudes of the same
    50 clips: 0.951 separable, 0.948 full table.
    """

    # 8192 frames (82 s at a 160-sample hop): far past the model's length, for codec round trips.
    def __init__(self, n_fft: int, hop: int, iterations: int, max_frames: int = 8192):
        super().__init__()
        self.iterations = iterations
        self.stft = ForwardSTFT(n_fft, hop)
        self.istft = InverseSTFT(n_fft, hop)
        self.max_frames = max_frames
        rng = np.random.default_rng(1)
        bin_angle = rng.uniform(-np.pi, np.pi, (n_fft // 2 + 1, 1))
        frame_angle = rng.uniform(-np.pi, np.pi, (1, max_frames))
        self.register_buffer("bin_angle", torch.tensor(bin_angle, dtype=torch.float32), persistent=False)
        self.register_buffer("frame_angle", torch.tensor(frame_angle, dtype=torch.float32), persistent=False)

    def phase(self, magnitude: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, bins, T) magnitude -> cosine and sine of the recovered phase."""
        frames = magnitude.shape[-1]
        angle = self.bin_angle + self.frame_angle[:, :frames]
        cos, sin = torch.cos(angle), torch.sin(angle)
        for _ in range(self.iterations):
            wave = self.istft(magnitude * cos, magnitude * sin)
            real, imag = self.stft(wave, frames)
            norm = torch.sqrt(real * real + imag * imag + 1e-12)
            cos, sin = real / norm, imag / norm
        return cos, sin

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        """(B, bins, T) magnitude -> (B, T * hop) waveform."""
        cos, sin = self.phase(magnitude)
        return self.istft(magnitude * cos, magnitude * sin)


def stft_magnitude(wave: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """(B, samples) -> (B, n_fft // 2 + 1, frames) magnitude; training and analysis only."""
    window = torch.hann_window(n_fft, device=wave.device)
    spec = torch.stft(wave, n_fft, hop, window=window, center=True, return_complex=True)
    return spec.abs()


def stft_complex(wave: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """(B, samples) -> complex (B, bins, frames); training and analysis only."""
    window = torch.hann_window(n_fft, device=wave.device)
    return torch.stft(wave, n_fft, hop, window=window, center=True, return_complex=True)
