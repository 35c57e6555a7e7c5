"""How close two waveforms are: SNR, log-mel cosine, and the YAMNet judge's embedding cosine.

numpy only, so the benchmark can score runs of any backend without importing torch.
"""

from __future__ import annotations

import numpy as np

from t2a_edge.core.mel import mel_filterbank

N_FFT, HOP, N_MELS = 400, 160, 64


def snr_db(actual: np.ndarray, reference: np.ndarray) -> float:
    """10 log10(|ref|^2 / |ref - actual|^2) over the whole signal (inf when identical)."""
    actual, reference = np.asarray(actual, np.float64), np.asarray(reference, np.float64)
    n = min(actual.size, reference.size)
    actual, reference = actual.reshape(-1)[:n], reference.reshape(-1)[:n]
    noise = float(np.sum((reference - actual) ** 2))
    signal = float(np.sum(reference**2))
    if noise == 0.0:
        return float("inf")
    return 10.0 * np.log10(max(signal, 1e-30) / noise)


def log_mel(samples: np.ndarray, sample_rate: int = 16_000) -> np.ndarray:
    """(frames, 64) log-mel magnitude of a mono signal (Hann window, 25 ms / 10 ms)."""
    x = np.asarray(samples, np.float64).reshape(-1)
    if x.size < N_FFT:
        x = np.pad(x, (0, N_FFT - x.size))
    frames = 1 + (x.size - N_FFT) // HOP
    index = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    spectrum = np.abs(np.fft.rfft(x[index] * window, axis=1))
    return np.log(spectrum @ mel_filterbank(N_FFT, N_MELS, sample_rate).T + 1e-6)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))


def logmel_cosine(actual: np.ndarray, reference: np.ndarray, sample_rate: int = 16_000) -> float:
    """Cosine between the mean-removed log-mel spectrograms of two clips."""
    a, b = log_mel(actual, sample_rate), log_mel(reference, sample_rate)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    return cosine(a - a.mean(), b - b.mean())


def judge_available() -> bool:
    """True when the YAMNet judge is already prepared locally (never downloads)."""
    try:
        from t2a_edge.core.paths import judge_dir

        return (judge_dir() / "judge.json").is_file() and (judge_dir() / "yamnet_batched.onnx").is_file()
    except Exception:
        return False


def judge_cosine(actual: np.ndarray, reference: np.ndarray) -> float | None:
    """Cosine of the judge's clip embeddings, or None if the judge is not installed here."""
    if not judge_available():
        return None
    try:
        from t2a_edge.convert.judge import Judge
    except ImportError:
        return None
    judge = Judge()
    return cosine(judge.run(np.asarray(actual, np.float32)).embedding,
                  judge.run(np.asarray(reference, np.float32)).embedding)


def compare(actual: np.ndarray, reference: np.ndarray, sample_rate: int = 16_000, use_judge: bool = True) -> dict:
    """All figures for one pair of batched waveforms (B, samples); worst case over the batch."""
    actual, reference = np.atleast_2d(actual), np.atleast_2d(reference)
    snrs = [snr_db(a, r) for a, r in zip(actual, reference)]
    mels = [logmel_cosine(a, r, sample_rate) for a, r in zip(actual, reference)]
    out = {"snr_db": float(min(snrs)), "logmel_cosine": float(min(mels))}
    if use_judge:
        judged = [judge_cosine(a, r) for a, r in zip(actual, reference)]
        out["judge_cosine"] = None if any(j is None for j in judged) else float(min(judged))
    return out
