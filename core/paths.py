"""Where t2a-edge keeps caches, corpora, bundles and models on the user's machine."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Root of everything t2a-edge caches: $T2A_EDGE_CACHE, else $XDG_CACHE_HOME/t2a-edge."""
    root = os.environ.get("T2A_EDGE_CACHE")
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "t2a-edge"


def corpus_dir() -> Path:
    """Default folder of the built sound-effects corpus."""
    return cache_dir() / "corpus"


def judge_dir() -> Path:
    """Folder holding the YAMNet judge files and the feature cache."""
    return cache_dir() / "judge"


def bundles_dir() -> Path:
    """Folder of converted runtime bundles, one sub-folder per model, backend and precision."""
    return cache_dir() / "bundles"


def default_model_dir() -> Path:
    """The trained default model shipped inside the package."""
    return Path(__file__).resolve().parent / "default_model"
