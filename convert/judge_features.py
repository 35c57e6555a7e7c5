"""YAMNet's log-mel front end in numpy: waveform -> [N, 1, 96, 64] float patches."""

from __future__ import annotations

import numpy as np

from t2a_edge.core.mel import mel_filterbank

SAMPLE_RATE = 16_000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512
N_MELS = 64
FMIN, FMAX = 125.0, 7500.0
LOG_OFFSET = 1e-6
PATCH_FRAMES = 96  # 0.96 s
PATCH_HOP = 48  # 0.48 s
# One patch needs this many samples; shorter clips are padded with silence up to it.
MIN_SAMPLES = N_FFT + (PATCH_FRAMES - 1) * HOP


def hann_periodic(n: int) -> np.ndarray:
    """Periodic Hann window of length n."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def fft_window() -> np.ndarray:
    """The 25 ms window centred inside the 512-point frame (torch.stft's placement)."""
    window = np.zeros(N_FFT)
    left = (N_FFT - WINDOW) // 2
    window[left:left + WINDOW] = hann_periodic(WINDOW)
    return window


def htk_mel_filterbank(n_fft: int = N_FFT, n_mels: int = N_MELS, sample_rate: int = SAMPLE_RATE,
                       fmin: float = FMIN, fmax: float = FMAX) -> np.ndarray:
    """Triangular HTK-mel filters, no area normalisation, as (n_fft // 2 + 1, n_mels)."""
    return mel_filterbank(n_fft, n_mels, sample_rate, fmin, fmax).T


_FILTERS = htk_mel_filterbank()
_WINDOW = fft_window()


def log_mel(samples: np.ndarray) -> np.ndarray:
    """(frames, 64) log-mel magnitudes of 16 kHz mono audio; frames are not centre-padded."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.size < N_FFT:
        samples = np.pad(samples, (0, N_FFT - samples.size))
    frames = np.lib.stride_tricks.sliding_window_view(samples, N_FFT)[::HOP]
    magnitude = np.abs(np.fft.rfft(frames * _WINDOW, n=N_FFT, axis=-1))
    return np.log(magnitude @ _FILTERS + LOG_OFFSET).astype(np.float32)


def patches(samples: np.ndarray) -> np.ndarray:
    """Cut a clip into [N, 1, 96, 64] log-mel patches, 48-frame hop; a partial tail is dropped."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.size < MIN_SAMPLES:
        # Pad with silence rather than padding the log-mel with zeros (= energy 1, loud).
        samples = np.pad(samples, (0, MIN_SAMPLES - samples.size))
    mel = log_mel(samples)
    starts = range(0, mel.shape[0] - PATCH_FRAMES + 1, PATCH_HOP)
    return np.stack([mel[s:s + PATCH_FRAMES] for s in starts])[:, None]
