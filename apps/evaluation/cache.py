"""Judge features cached by the sha256 of the audio file's bytes, so re-scoring is cheap."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from t2a_edge.apps.evaluation.judge import ClipFeatures, Judge
from t2a_edge.core.errors import T2AError

# Part of every cache key: bump when the front end or the prepared graph changes.
FEATURE_VERSION = "yamnet-w8a8-qdq-v2"  # v2: the QDQ graph run as written (judge.Judge)
# Every generated clip is new audio, so entries pile up (about 56 KB each, 1 GB after ~150 rows of
# 128 clips): past this size the least recently used go. T2A_EDGE_FEATURES_MB overrides it.
DEFAULT_LIMIT_MB = 1024
PRUNE_EVERY = 256  # new entries between size checks (a check stats every entry)


def size_limit() -> int:
    """The feature cache's size bound in bytes."""
    value = os.environ.get("T2A_EDGE_FEATURES_MB", "")
    try:
        mb = float(value) if value else DEFAULT_LIMIT_MB
    except ValueError:
        raise T2AError(f"T2A_EDGE_FEATURES_MB={value!r} is not a number of megabytes") from None
    return int(mb * 2**20)


class FeatureCache:
    """Per-file judge features stored as `features/<sha256>.npz` under the judge folder."""

    def __init__(self, judge: Judge, folder: Path | None = None, limit: int | None = None):
        from t2a_edge.core.paths import judge_dir

        self.judge = judge
        self.folder = Path(folder) if folder else judge_dir() / "features" / FEATURE_VERSION
        self.limit = size_limit() if limit is None else limit
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
                os.utime(entry)  # recently used: the real clips every run scores are never pruned
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
        if self.misses % PRUNE_EVERY == 1:
            self.prune()
        return clip

    def prune(self) -> int:
        """Delete the least recently used entries until the folder is within its bound; returns how many."""
        entries = []
        for path in self.folder.glob("*.npz"):
            try:
                stat = path.stat()
            except OSError:  # removed meanwhile by another run's prune
                continue
            entries.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        removed = 0
        for _, size, path in sorted(entries):
            if total <= self.limit:
                break
            path.unlink(missing_ok=True)
            total -= size
            removed += 1
        return removed

    def many(self, paths, progress: str | None = None) -> list[ClipFeatures]:
        """Features of several files, with a progress bar when `progress` names the task."""
        paths = list(paths)
        if progress and len(paths) > 1:
            from tqdm import tqdm

            paths = tqdm(paths, desc=progress, unit="clip", leave=False)
        return [self.features(p) for p in paths]
