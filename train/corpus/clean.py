"""Audio cleaning: decode, mono 16 kHz, trim silence, cut long loops into windows, normalise loudness."""

from __future__ import annotations

import hashlib
import io
import math

import numpy as np

from t2a_edge.core.audio import SAMPLE_RATE, resample, to_mono

MIN_SECONDS = 0.3  # shorter clips are UI blips or clicks
MAX_SECONDS = 10.0  # longer clips (loops) are cut into windows of 5-10 s
TARGET_DBFS = -20.0  # loudness of the active (non-silent) part
PEAK_LIMIT = 0.97
FRAME = 400  # 25 ms frames
HOP = 160  # 10 ms hop
SILENCE_BELOW_PEAK_DB = 45.0  # a frame this far below the loudest frame counts as silence
SILENCE_FLOOR_DBFS = -65.0
QUIET_WINDOW_DB = 20.0  # a window this much quieter than the loudest window of its loop is dropped


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """Decode an OGG/WAV/FLAC file held in memory into float32 (frames, channels) and its rate."""
    import soundfile as sf

    samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return samples, rate


def frame_db(x: np.ndarray) -> np.ndarray:
    """Per-frame RMS level in dBFS (25 ms frames, 10 ms hop)."""
    if len(x) < FRAME:
        x = np.pad(x, (0, FRAME - len(x)))
    n = 1 + (len(x) - FRAME) // HOP
    idx = np.arange(FRAME)[None, :] + HOP * np.arange(n)[:, None]
    rms = np.sqrt(np.mean(x[idx].astype(np.float64) ** 2, axis=1))
    return 20 * np.log10(rms + 1e-10)


def active_mask(db: np.ndarray) -> np.ndarray:
    """Frames that are not silence, relative to the loudest frame and to an absolute floor."""
    threshold = max(db.max() - SILENCE_BELOW_PEAK_DB, SILENCE_FLOOR_DBFS)
    return db > threshold


def trim(x: np.ndarray, pad_s: float = 0.03) -> np.ndarray:
    """Remove leading and trailing silence, keeping a short pad; all-silent input gives an empty array."""
    if len(x) == 0:
        return x
    db = frame_db(x)
    active = np.flatnonzero(active_mask(db))
    if db.max() <= SILENCE_FLOOR_DBFS or len(active) == 0:
        return x[:0]
    pad = int(pad_s * SAMPLE_RATE)
    start = max(active[0] * HOP - pad, 0)
    end = min(active[-1] * HOP + FRAME + pad, len(x))
    return x[start:end]


def windows(x: np.ndarray, max_s: float = MAX_SECONDS) -> list[np.ndarray]:
    """Cut a long clip into equal windows no longer than max_s (each at least max_s / 2)."""
    n = len(x)
    limit = int(max_s * SAMPLE_RATE)
    if n <= limit:
        return [x]
    k = math.ceil(n / limit)
    bounds = [round(i * n / k) for i in range(k + 1)]
    return [x[bounds[i]:bounds[i + 1]] for i in range(k)]


def normalise(x: np.ndarray) -> np.ndarray:
    """Scale the active part to TARGET_DBFS RMS, then limit the peak to PEAK_LIMIT."""
    db = frame_db(x)
    mask = active_mask(db)
    level = 10 * np.log10(np.mean(10 ** (db[mask] / 10))) if mask.any() else db.max()
    y = x * (10 ** ((TARGET_DBFS - level) / 20))
    peak = float(np.abs(y).max()) if len(y) else 0.0
    if peak > PEAK_LIMIT:
        y = y * (PEAK_LIMIT / peak)
    return y.astype(np.float32)


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Quantise to int16 as the FLAC file will hold it (so hashes match what is on disk)."""
    return np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)


def describe(x: np.ndarray) -> dict[str, float]:
    """Listening statistics for spot checks: level, spectral centroid, active fraction."""
    db = frame_db(x)
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(len(x)))) if len(x) > 1 else np.zeros(1)
    freqs = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE) if len(x) > 1 else np.zeros(1)
    centroid = float((spectrum * freqs).sum() / (spectrum.sum() + 1e-12))
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0
    return {"rms_db": round(20 * math.log10(rms + 1e-10), 2), "centroid_hz": round(centroid, 1),
            "active": round(float(active_mask(db).mean()), 3)}


def clean(samples: np.ndarray, rate: int) -> list[np.ndarray]:
    """The whole chain for one decoded file: the kept clips as int16 at 16 kHz (possibly none)."""
    x = resample(to_mono(samples), rate, SAMPLE_RATE)
    x = trim(x)
    if len(x) < MIN_SECONDS * SAMPLE_RATE:
        return []
    parts = windows(x)
    if len(parts) > 1:
        levels = [float(frame_db(p).max()) for p in parts]
        loudest = max(levels)
        parts = [p for p, level in zip(parts, levels)
                 if level > loudest - QUIET_WINDOW_DB and active_mask(frame_db(p)).mean() > 0.3]
    out = []
    for part in parts:
        if len(parts) == 1:
            part = trim(part)  # already trimmed; windows of a loop keep their edges
        if len(part) < MIN_SECONDS * SAMPLE_RATE:
            continue
        out.append(to_pcm16(normalise(part)))
    return out


def pcm_hash(pcm: np.ndarray) -> str:
    """Content hash of a clip's samples (used to drop duplicates across and within packages)."""
    return hashlib.sha256(np.ascontiguousarray(pcm, dtype="<i2").tobytes()).hexdigest()
