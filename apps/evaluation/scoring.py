"""Turn judge features of candidate and reference clips into one row of metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from t2a_edge.apps.evaluation import metrics
from t2a_edge.apps.evaluation.judge import ClipFeatures
from t2a_edge.core.errors import T2AError

TOP_K = 5
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


@dataclass
class Item:
    """One test caption: the clip it came from and the caption used as the prompt."""

    id: str
    caption: str
    category: str
    reference: Path


def load_items(manifest, split: str, limit: int | None = None) -> list[Item]:
    """Test items from the manifest, sorted by id; `limit` takes categories round-robin."""
    from t2a_edge.train.manifest import read_manifest

    clips = sorted(read_manifest(manifest, split), key=lambda c: c.id)
    items = [Item(c.id, c.captions[0] if c.captions else c.category, c.category, Path(c.audio))
             for c in clips]
    if limit is not None and limit < len(items):
        # Round-robin over categories so a small subset still covers every category.
        by_cat: dict[str, list[Item]] = {}
        for item in items:
            by_cat.setdefault(item.category, []).append(item)
        queues, items = [list(v) for _, v in sorted(by_cat.items())], []
        while len(items) < limit:
            for queue in queues:
                if queue and len(items) < limit:
                    items.append(queue.pop(0))
        items.sort(key=lambda i: i.id)
    return items


def match_generated(items: list[Item], folder: Path) -> tuple[list[Item], list[Path], list[str]]:
    """Pair items with `<id>.wav|flac|ogg` in `folder`; return kept items, files and the missing ids."""
    folder = Path(folder)
    if not folder.is_dir():
        raise T2AError(f"--generated folder {folder} does not exist")
    kept, files, missing = [], [], []
    for item in items:
        found = next((folder / f"{item.id}{s}" for s in AUDIO_SUFFIXES if (folder / f"{item.id}{s}").is_file()), None)
        if found is None:
            missing.append(item.id)
        else:
            kept.append(item)
            files.append(found)
    if not kept:
        raise T2AError(f"no file in {folder} is named after a clip id of this split (expected e.g. {items[0].id}.wav)")
    return kept, files, missing


def accepted_lookup() -> Callable[[str], Iterable[str]] | None:
    """The corpus's category -> accepted AudioSet classes map, or None if this build lacks it."""
    try:
        from t2a_edge.train.corpus.categories import accepted_classes
    except ImportError:
        return None

    def accepted(category: str) -> tuple[str, ...]:
        # A category the map does not know is left out of the hit-rate, not an error.
        try:
            return tuple(accepted_classes(category))
        except (T2AError, KeyError, ValueError):
            return ()

    return accepted


def _embeddings(clips: list[ClipFeatures]) -> np.ndarray:
    # FAD on per-patch embeddings (as the original VGGish FAD): more samples for a 1024-d covariance.
    return np.concatenate([c.embeddings for c in clips])


def score(candidates: list[ClipFeatures], references: list[ClipFeatures], items: list[Item],
          class_names: list[str], accepted, paired: bool = True) -> dict:
    """FAD (candidates vs references), paired KL, IS and hit-rate of the candidates, plus per-clip detail."""
    distributions = np.stack([c.distribution for c in candidates])
    row = {"clips": len(candidates),
           "fad": metrics.frechet_distance(_embeddings(candidates), _embeddings(references)),
           "kl": None, "is": metrics.inception_score(distributions)}
    kls = None
    if paired:
        ref_dist = np.stack([r.distribution for r in references])
        kls = metrics.kl_divergence(ref_dist, distributions)
        row["kl"] = float(kls.mean())
    tops = [metrics.top_k(c.scores, class_names, TOP_K) for c in candidates]
    row.update(_hits(tops, items, accepted))
    row["per_clip"] = [
        {"id": it.id, "caption": it.caption, "category": it.category, "top5": top,
         **({"kl": float(k)} if kls is not None else {})}
        for it, top, k in zip(items, tops, kls if kls is not None else [None] * len(items))]
    return row


def _hits(tops, items, accepted) -> dict:
    if accepted is None:
        return {"hit_rate": None, "hit_rate_by_category": {}, "hit_rate_shuffled": None}
    categories = [i.category for i in items]
    rate, per = metrics.hit_rate(tops, categories, accepted)
    return {"hit_rate": rate, "hit_rate_by_category": per,
            "hit_rate_shuffled": metrics.shuffled_hit_rate(tops, categories, accepted)}


def halves(items: list[Item]) -> tuple[list[int], list[int]]:
    """Split indices into two halves by alternating through the clips sorted by (category, id).

    Each category splits as evenly as it can, and categories with one clip alternate between
    the halves, so both halves are equally large and cover the same mix of sounds.
    """
    order = sorted(range(len(items)), key=lambda i: (items[i].category, items[i].id))
    return order[0::2], order[1::2]


def score_real(references: list[ClipFeatures], items: list[Item], class_names: list[str], accepted) -> dict:
    """The ceiling: real clips judged as if generated.

    FAD is between two category-balanced halves (a set against itself would give 0); KL pairs
    each clip of the first half with a clip of the same category in the second half; IS and
    hit-rate use every clip. Half-size sets inflate FAD a little relative to full-size ones.
    """
    first, second = halves(items)
    row = {"clips": len(references), "fad": None, "kl": None,
           "is": metrics.inception_score(np.stack([r.distribution for r in references]))}
    if len(first) >= 2 and len(second) >= 2:
        row["fad"] = metrics.frechet_distance(_embeddings([references[i] for i in first]),
                                              _embeddings([references[i] for i in second]))
    pairs = _same_category_pairs(items, first, second)
    if pairs:
        a = np.stack([references[i].distribution for i, _ in pairs])
        b = np.stack([references[j].distribution for _, j in pairs])
        row["kl"] = metrics.paired_kl(a, b)
    tops = [metrics.top_k(r.scores, class_names, TOP_K) for r in references]
    row.update(_hits(tops, items, accepted))
    row["per_clip"] = [{"id": it.id, "caption": it.caption, "category": it.category, "top5": top}
                       for it, top in zip(items, tops)]
    return row


def _same_category_pairs(items, first, second) -> list[tuple[int, int]]:
    by_cat: dict[str, list[int]] = {}
    for j in second:
        by_cat.setdefault(items[j].category, []).append(j)
    pairs = []
    for i in first:
        queue = by_cat.get(items[i].category)
        if queue:
            pairs.append((i, queue.pop(0)))
    return pairs


def top1_by_category(references: list[ClipFeatures], items: list[Item], class_names: list[str]) -> dict:
    """For each category, how often each class is the judge's top-1, most frequent first."""
    counts: dict[str, dict[str, int]] = {}
    for ref, item in zip(references, items):
        name = metrics.top_k(ref.scores, class_names, 1)[0]
        per = counts.setdefault(item.category, {})
        per[name] = per.get(name, 0) + 1
    return {cat: dict(sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))) for cat, per in sorted(counts.items())}
