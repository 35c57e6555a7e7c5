"""The latent codec: whitened PCA of log-spectrogram frames plus learned residual networks.

At initialisation the codec is exactly a PCA codec fitted to the corpus (measured with the judge on
40 test clips, 64 dims at 50 Hz keep embedding cosine 0.82 and the real clips' hit-rate, against
0.34 for a learned-from-scratch codec after 1000 CPU steps); training then improves both sides.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from t2a_edge.core.config import CodecConfig
from t2a_edge.core.spectral import InverseSTFT, stft_magnitude


class ConvNeXtBlock(nn.Module):
    """Depthwise conv, LayerNorm, pointwise MLP, residual (ConvNeXt / Vocos)."""

    def __init__(self, width: int, kernel: int, layer_scale: float = 1e-2):
        super().__init__()
        self.depthwise = nn.Conv1d(width, width, kernel, padding=kernel // 2, groups=width)
        self.norm = nn.LayerNorm(width)
        self.up = nn.Linear(width, width * 3)
        self.down = nn.Linear(width * 3, width)
        self.scale = nn.Parameter(torch.full((width,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.depthwise(x).transpose(1, 2)
        h = self.down(F.gelu(self.up(self.norm(h))))
        return x + (self.scale * h).transpose(1, 2)


class SpectralPCA(nn.Module):
    """One side of a whitened PCA of `downsample` stacked log-magnitude frames (fitted to the corpus)."""

    def __init__(self, cfg: CodecConfig):
        super().__init__()
        self.cfg = cfg
        size = (cfg.n_fft // 2 + 1) * cfg.downsample
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("basis", torch.zeros(cfg.latent_dim, size))

    def stack(self, log_magnitude: torch.Tensor) -> torch.Tensor:
        """(B, bins, T) -> (B, T / downsample, bins * downsample)."""
        b, bins, t = log_magnitude.shape
        ds = self.cfg.downsample
        return log_magnitude[..., : t - t % ds].transpose(1, 2).reshape(b, t // ds, bins * ds)

    def project(self, log_magnitude: torch.Tensor) -> torch.Tensor:
        """(B, bins, T) -> (B, latent_dim, T / downsample) whitened coordinates."""
        return ((self.stack(log_magnitude) - self.mean) @ self.basis.T).transpose(1, 2)

    def reconstruct(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim, frames) -> (B, frames, bins * downsample) log-magnitudes."""
        return latents.transpose(1, 2) @ self.basis + self.mean


def fit_pca(rows: torch.Tensor, latent_dim: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(rows, size) stacked frames -> mean, whitening basis, and its inverse (latent_dim, size)."""
    mean = rows.mean(0)
    _, singular, vt = torch.linalg.svd(rows - mean, full_matrices=False)
    scale = singular[:latent_dim] / (len(rows) - 1) ** 0.5
    return mean, vt[:latent_dim] / scale[:, None], vt[:latent_dim] * scale[:, None]


class CodecEncoder(nn.Module):
    """Log-magnitude STFT -> (mean, log-variance) of latent frames: PCA plus a learned residual."""

    def __init__(self, cfg: CodecConfig):
        super().__init__()
        self.cfg = cfg
        self.pca = SpectralPCA(cfg)
        bins = cfg.n_fft // 2 + 1
        # Strided input conv: the stack runs at the latent rate, which halves its cost.
        self.inp = nn.Conv1d(bins, cfg.encoder_width, 2 * cfg.downsample, stride=cfg.downsample,
                             padding=cfg.downsample // 2)
        self.blocks = nn.ModuleList(ConvNeXtBlock(cfg.encoder_width, cfg.kernel)
                                    for _ in range(cfg.encoder_layers))
        self.norm = nn.LayerNorm(cfg.encoder_width)
        self.out = nn.Linear(cfg.encoder_width, 2 * cfg.latent_dim)
        # Start as the PCA codec: no residual, and a small posterior spread (sigma = 0.05) so that
        # sampling does not drown the whitened (unit-variance) coordinates.
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.out.bias.data[cfg.latent_dim:] = -6.0

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, samples) with samples a multiple of frame_samples -> two (B, latent_dim, frames)."""
        frames = wave.shape[-1] // self.cfg.hop
        log_spec = torch.log(stft_magnitude(wave, self.cfg.n_fft, self.cfg.hop)[..., :frames] + 1e-5)
        x = self.inp(log_spec)[..., : frames // self.cfg.downsample]
        for block in self.blocks:
            x = block(x)
        x = self.out(self.norm(x.transpose(1, 2))).transpose(1, 2)
        residual, logvar = x.chunk(2, dim=1)
        return self.pca.project(log_spec) + residual, logvar.clamp(-12.0, 6.0)


class CodecDecoder(nn.Module):
    """Latent frames -> ConvNeXt stack -> STFT magnitudes (`downsample` frames each).

    Only magnitudes are learned: a regression that trains in CPU hours. A learned phase without an
    adversarial loss came out buzzy (the judge heard "Synthesizer": embedding cosine 0.31 after
    1000 steps), while a few Griffin-Lim iterations on true magnitudes keep cosine 0.945. The phase
    comes from core.phase (numpy FFTs, outside every graph); `istft` is its differentiable inverse
    STFT for the training loss.
    """

    def __init__(self, cfg: CodecConfig):
        super().__init__()
        self.cfg = cfg
        self.pca = SpectralPCA(cfg)
        bins = cfg.n_fft // 2 + 1
        self.bins = bins
        self.inp = nn.Conv1d(cfg.latent_dim, cfg.decoder_width, cfg.kernel, padding=cfg.kernel // 2)
        self.blocks = nn.ModuleList(ConvNeXtBlock(cfg.decoder_width, cfg.kernel)
                                    for _ in range(cfg.decoder_layers))
        self.norm = nn.LayerNorm(cfg.decoder_width)
        # Each latent frame predicts `downsample` spectral frames (pixel-shuffle in time), so the
        # stack runs at the latent rate rather than the spectral frame rate.
        self.out = nn.Linear(cfg.decoder_width, cfg.downsample * bins)
        nn.init.zeros_(self.out.weight)  # start as the PCA inverse
        nn.init.zeros_(self.out.bias)
        self.istft = InverseSTFT(cfg.n_fft, cfg.hop)

    def log_magnitude(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim, frames) -> (B, bins, frames * downsample) natural-log STFT magnitudes."""
        batch, frames = latents.shape[0], latents.shape[-1] * self.cfg.downsample
        x = self.inp(latents)
        for block in self.blocks:
            x = block(x)
        x = self.out(self.norm(x.transpose(1, 2))) + self.pca.reconstruct(latents)  # (B, T, downsample * bins)
        return x.reshape(batch, frames, self.bins).transpose(1, 2).clamp(-12.0, 6.0)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim, frames) -> (B, bins, frames * downsample) STFT magnitudes."""
        return torch.exp(self.log_magnitude(latents))


class Codec(nn.Module):
    """Encoder + decoder with a KL bottleneck; latents are normalised by corpus statistics."""

    def __init__(self, cfg: CodecConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = CodecEncoder(cfg)
        self.decoder = CodecDecoder(cfg)
        # Per-channel statistics measured on the corpus after training, so tokens are ~N(0, 1).
        self.register_buffer("latent_mean", torch.zeros(cfg.latent_dim))
        self.register_buffer("latent_std", torch.ones(cfg.latent_dim))

    def pad(self, wave: torch.Tensor) -> torch.Tensor:
        """Zero-pad the waveform to a whole number of latent frames."""
        remainder = (-wave.shape[-1]) % self.cfg.frame_samples
        return F.pad(wave, (0, remainder)) if remainder else wave

    @torch.no_grad()
    def fit_pca(self, waves: list) -> None:
        """Fit the PCA to log-magnitude frames of some training clips (1-D float32 arrays)."""
        rows = []
        for wave in waves:
            wave = torch.as_tensor(wave)[None]
            frames = wave.shape[-1] // self.cfg.hop
            log_spec = torch.log(stft_magnitude(wave, self.cfg.n_fft, self.cfg.hop)[..., :frames] + 1e-5)
            rows.append(self.encoder.pca.stack(log_spec)[0])
        mean, whiten, unwhiten = fit_pca(torch.cat(rows).double(), self.cfg.latent_dim)
        self.encoder.pca.mean.copy_(mean)
        self.encoder.pca.basis.copy_(whiten)
        self.decoder.pca.mean.copy_(mean)
        self.decoder.pca.basis.copy_(unwhiten)

    def encode(self, wave: torch.Tensor, sample: bool = False) -> torch.Tensor:
        """(B, samples) -> normalised latents (B, latent_dim, frames)."""
        mean, logvar = self.encoder(self.pad(wave))
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if sample else mean
        return (z - self.latent_mean[:, None]) / self.latent_std[:, None]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents (B, latent_dim, frames) -> STFT magnitudes (B, bins, frames * downsample).

        core.phase.synthesize(magnitudes, cfg) makes the waveform (frames * frame_samples samples).
        """
        return self.decoder(latents * self.latent_std[:, None] + self.latent_mean[:, None])
