"""A tiny synthetic corpus (tones, noise bursts, chirps, clicks) with captions that describe it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from t2a_edge.core.audio import SAMPLE_RATE, save_audio
from t2a_edge.train.manifest import MANIFEST_NAME, Clip, write_manifest

KINDS = {
    "low tone": ["a low steady hum", "a deep tone"],
    "high tone": ["a high pitched beep", "a shrill whistle tone"],
    "noise burst": ["a burst of white noise", "a short hiss"],
    "rising chirp": ["a rising chirp", "a sweep going up"],
    "falling chirp": ["a falling chirp", "a sweep going down"],
    "clicks": ["rapid clicking", "a train of clicks"],
}


def synth(kind: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """One clip of the given kind with random pitch, level and envelope."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    if kind == "low tone":
        wave = np.sin(2 * np.pi * rng.uniform(100, 200) * t)
    elif kind == "high tone":
        wave = np.sin(2 * np.pi * rng.uniform(1500, 3000) * t)
    elif kind == "noise burst":
        wave = rng.standard_normal(len(t)) * np.exp(-t * rng.uniform(2, 6))
    elif kind in ("rising chirp", "falling chirp"):
        f0, f1 = sorted(rng.uniform(200, 4000, 2))
        if kind == "falling chirp":
            f0, f1 = f1, f0
        phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds))
        wave = np.sin(phase)
    elif kind == "clicks":
        wave = np.zeros(len(t))
        period = int(SAMPLE_RATE / rng.uniform(5, 20))
        wave[::period] = 1.0
        wave = np.convolve(wave, np.hanning(32), mode="same")
    else:
        raise ValueError(kind)
    return (0.5 * rng.uniform(0.5, 1.0) * wave / (np.abs(wave).max() + 1e-9)).astype(np.float32)


def make_synthetic_corpus(dest: str | Path, clips_per_kind: int = 6, seconds: tuple[float, float] = (0.6, 2.0),
                          seed: int = 0) -> Path:
    """Write FLAC clips and manifest.jsonl into `dest`; every fourth clip of a kind goes to test."""
    dest = Path(dest)
    (dest / "audio").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    clips = []
    for kind, captions in KINDS.items():
        for i in range(clips_per_kind):
            length = float(rng.uniform(*seconds))
            clip_id = f"{kind.replace(' ', '_')}_{i:03d}"
            path = dest / "audio" / f"{clip_id}.flac"
            save_audio(path, synth(kind, length, rng), overwrite=True)
            clips.append(Clip(id=clip_id, audio=f"audio/{clip_id}.flac", captions=list(captions), category=kind,
                              split="test" if i % 4 == 3 else "train", duration=length, source="synthetic",
                              license="CC0-1.0"))
    write_manifest(dest / MANIFEST_NAME, clips)
    return dest / MANIFEST_NAME
