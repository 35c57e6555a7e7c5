"""The held-out split: about 10% per category, whole groups at a time so no recording leaks across."""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections import defaultdict

from t2a_edge.train.manifest import Clip

TEST_FRACTION = 0.10
_TRAILING_NUMBER = re.compile(r"[\s._-]*\d+[a-z]?$")


def group_key(clip: Clip) -> str:
    """Clips that must stay on one side: windows of one loop, and numbered takes of one sound.

    'rain_11.ogg' and 'rain_12.ogg' of one folder are often cuts of a single recording, so the
    trailing take number is dropped from the key, not just the window index.
    """
    path = clip.source_path
    folder, name = posixpath.split(path)
    stem = _TRAILING_NUMBER.sub("", posixpath.splitext(name)[0].lower())
    return f"{clip.source}:{folder}/{stem}"


def _order(key: str, seed: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def assign_splits(clips: list[Clip], fraction: float = TEST_FRACTION, seed: str = "t2a-edge") -> None:
    """Set `clip.split` in place, deterministically, stratified by category and grouped by group_key."""
    groups: dict[str, list[Clip]] = defaultdict(list)
    for clip in clips:
        groups[group_key(clip)].append(clip)
    # A group belongs to the category most of its clips have.
    by_category: dict[str, list[str]] = defaultdict(list)
    for key, members in groups.items():
        counts: dict[str, int] = defaultdict(int)
        for clip in members:
            counts[clip.category] += 1
        category = min(counts, key=lambda c: (-counts[c], c))
        by_category[category].append(key)
    test: set[str] = set()
    for category in sorted(by_category):
        keys = sorted(by_category[category], key=lambda k: _order(k, seed))
        total = sum(len(groups[k]) for k in keys)
        target = round(total * fraction)
        if len(keys) < 2 or target < 1:
            continue  # a category held by one recording cannot be split without a leak
        taken = 0
        for key in keys:
            size = len(groups[key])
            if taken >= target:
                break
            # Take a group when it does not overshoot much; one big loop must not become the whole test set.
            if taken + size <= max(1.5 * target, 1) and len(test & set(keys)) < len(keys) - 1:
                test.add(key)
                taken += size
    for key, members in groups.items():
        for clip in members:
            clip.split = "test" if key in test else "train"


def check_no_leak(clips: list[Clip]) -> list[str]:
    """Group keys found in both splits (empty when the split is clean)."""
    sides: dict[str, set[str]] = defaultdict(set)
    for clip in clips:
        sides[group_key(clip)].add(clip.split)
    return sorted(k for k, s in sides.items() if len(s) > 1)
