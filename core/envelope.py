"""Smoothing a generated clip's loudness along time, on the decoder's STFT magnitudes, before the phase.

A one-step student draws every token on its own, so the loudness of its clips jumps from one 40 ms
token to the next where real sound flows; the judge hears those jumps as hum, quacks and synthesizer
tones (README, "The default model"). Smoothing each frame's mean log-magnitude over a few frames, and
leaving the spectrum's shape within each frame as drawn, removes the jumps and keeps the texture.
"""

from __future__ import annotations

import numpy as np

FLOOR = 1e-5  # magnitudes below this count as this in the log (the decoder's exp never gives 0 anyway)


def window_frames(milliseconds: float, frame_seconds: float) -> int:
    """The odd number of STFT frames a Hann window spans within `milliseconds` (1: no smoothing)."""
    count = int(milliseconds / 1000.0 / frame_seconds + 1e-9)
    return max(1, count if count % 2 else count - 1)


def smooth_along_time(values: np.ndarray, frames: int) -> np.ndarray:
    """(..., T) -> (..., T): a normalised Hann window of `frames` (odd) points, edges reflected."""
    if frames <= 1:
        return values
    weights = np.hanning(frames + 2)[1:-1]  # numpy's window ends at zero weight: drop those points
    weights = (weights / weights.sum()).astype(values.dtype)
    half = frames // 2
    padded = np.pad(values, [(0, 0)] * (values.ndim - 1) + [(half, half)], mode="reflect")
    length = values.shape[-1]
    out = weights[0] * padded[..., :length]
    for offset in range(1, frames):
        out = out + weights[offset] * padded[..., offset:offset + length]
    return out


def smooth_loudness(magnitude: np.ndarray, frames: int) -> np.ndarray:
    """(B, bins, T) magnitudes with each frame's mean log-magnitude smoothed over `frames` frames."""
    if frames <= 1:
        return magnitude
    loudness = np.log(np.maximum(magnitude, FLOOR)).mean(axis=1, keepdims=True)  # (B, 1, T)
    gain = np.exp(smooth_along_time(loudness, frames) - loudness)
    return (magnitude * gain).astype(magnitude.dtype, copy=False)
