"""Codec reconstruction errors: log-mel L1 and multi-resolution STFT distance (numpy only)."""

from __future__ import annotations

import numpy as np

from t2a_edge.apps.evaluation import features

# (n_fft, hop) pairs: the usual three resolutions of codec losses at 16 kHz.
RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))
MAG_FLOOR = 1e-5  # clamp before log so near-silence does not dominate the distance


def align(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Trim both signals to the shorter length (codecs may drop a partial frame)."""
    n = min(len(a), len(b))
    return np.asarray(a[:n], np.float64), np.asarray(b[:n], np.float64)


def stft_magnitude(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT| with a periodic Hann window of n_fft, frames not centre-padded."""
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    return np.abs(np.fft.rfft(frames * features.hann_periodic(n_fft), axis=-1))


def mel_l1(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """Mean absolute difference of natural-log mel magnitudes (the judge's 64 bands)."""
    a, b = align(original, reconstruction)
    mel_a = stft_magnitude(a, features.N_FFT, features.HOP) @ features.htk_mel_filterbank()
    mel_b = stft_magnitude(b, features.N_FFT, features.HOP) @ features.htk_mel_filterbank()
    return float(np.abs(np.log(np.maximum(mel_a, MAG_FLOOR)) - np.log(np.maximum(mel_b, MAG_FLOOR))).mean())


def multi_resolution_stft(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """Mean over resolutions of spectral convergence + log-magnitude L1."""
    a, b = align(original, reconstruction)
    total = 0.0
    for n_fft, hop in RESOLUTIONS:
        mag_a, mag_b = stft_magnitude(a, n_fft, hop), stft_magnitude(b, n_fft, hop)
        convergence = np.linalg.norm(mag_a - mag_b) / max(np.linalg.norm(mag_a), MAG_FLOOR)
        log_l1 = np.abs(np.log(np.maximum(mag_a, MAG_FLOOR)) - np.log(np.maximum(mag_b, MAG_FLOOR))).mean()
        total += convergence + log_l1
    return float(total / len(RESOLUTIONS))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (0 when either is all zeros)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm > 0 else 0.0
