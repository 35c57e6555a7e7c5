"""Judge features cached by the sha256 of the audio file's bytes, so re-scoring is cheap."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from t2a_edge.apps.evaluation.judge import ClipFeatures, Judge
from t2a_edge.core.errors import T2AError

# Part of every cache key: bump when the front end or the prepared graph changes.
FEATURE_VERSION = "yamnet-w8a8-qdq-v2"  # v2: the QDQ graph run as written (judge.Judge)


class FeatureCache:
    """Per-file judge features stored as `features/<sha256>.npz` under the judge folder."""

    def __init__(self, judge: Judge, folder: Path | None = None):
        from t2a_edge.core.paths import judge_dir

        self.judge = judge
        self.folder = Path(folder) if folder else judge_dir() / "features" / FEATURE_VERSION
        self.hits = self.misses = 0

    def features(self, path: str | os.PathLike) -> ClipFeatures:
        """The judge's features of one audio file, computed once per distinct file content."""
        from t2a_edge.core.model_files import sha256_file
        from t2a_edge.core.audio import load_audio

        path = Path(path)
        if not path.is_file():
            raise T2AError(f"audio file {path} does not exist")
        entry = self.folder / f"{sha256_file(path)}.npz"
        if entry.is_file():
            try:
                with np.load(entry, allow_pickle=False) as data:
                    clip = ClipFeatures(data["logits"], data["embeddings"])
                self.hits += 1
                return clip
            except (OSError, ValueError, KeyError):
                pass  # a damaged entry is recomputed and overwritten below
        clip = self.judge.run(load_audio(path))
        self.misses += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f".{entry.stem}.{os.getpid()}.npz")
        np.savez(tmp, logits=clip.logits, embeddings=clip.embeddings)
        os.replace(tmp, entry)
        return clip

    def many(self, paths, progress: str | None = None) -> list[ClipFeatures]:
        """Features of several files, with a progress bar when `progress` names the task."""
        paths = list(paths)
        if progress and len(paths) > 1:
            from tqdm import tqdm

            paths = tqdm(paths, desc=progress, unit="clip", leave=False)
        return [self.features(p) for p in paths]
