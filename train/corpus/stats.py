"""Corpus summaries (clips, minutes, categories per source and split) and the license attribution list."""

from __future__ import annotations

from collections import defaultdict

from t2a_edge.train.manifest import Clip


def _tally(clips: list[Clip], key) -> dict[str, dict]:
    out: dict[str, dict] = defaultdict(lambda: {"clips": 0, "minutes": 0.0, "categories": set()})
    for clip in clips:
        row = out[key(clip)]
        row["clips"] += 1
        row["minutes"] += clip.duration / 60
        row["categories"].add(clip.category)
    return {k: {"clips": v["clips"], "minutes": round(v["minutes"], 2), "categories": len(v["categories"])}
            for k, v in sorted(out.items())}


def _median(values: list[float]) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return round(values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2, 2)


def listening_stats(clips: list[Clip]) -> dict[str, dict]:
    """Per-category medians of duration, level and spectral centroid, for spotting mislabelled rules."""
    groups: dict[str, list[Clip]] = defaultdict(list)
    for clip in clips:
        groups[clip.category].append(clip)
    return {cat: {"median_seconds": _median([c.duration for c in members]),
                  "median_rms_db": _median([c.extra.get("rms_db") for c in members]),
                  "median_centroid_hz": _median([c.extra.get("centroid_hz") for c in members])}
            for cat, members in sorted(groups.items())}


def summary(clips: list[Clip]) -> dict:
    """Machine-readable totals: overall, per category (with listening statistics), per source and per split."""
    per_category = _tally(clips, lambda c: c.category)
    listening = listening_stats(clips)
    return {
        "clips": len(clips),
        "minutes": round(sum(c.duration for c in clips) / 60, 2),
        "categories": {k: {"clips": v["clips"], "minutes": v["minutes"], **listening[k]}
                       for k, v in per_category.items()},
        "categories_with_10_clips": sum(1 for v in per_category.values() if v["clips"] >= 10),
        "sources": _tally(clips, lambda c: c.source),
        "splits": _tally(clips, lambda c: c.split),
        "source_splits": _tally(clips, lambda c: f"{c.source}/{c.split}"),
    }


def format_table(clips: list[Clip]) -> str:
    """A plain-text table: one row per source with its train and test figures, then the categories."""
    s = summary(clips)
    by = s["source_splits"]
    lines = [f"{'source':<26}{'clips':>7}{'min':>8}{'cats':>6}   {'train':>6}{'min':>8}   {'test':>5}{'min':>7}"]
    lines.append("-" * len(lines[0]))
    for source, row in s["sources"].items():
        train = by.get(f"{source}/train", {"clips": 0, "minutes": 0.0})
        test = by.get(f"{source}/test", {"clips": 0, "minutes": 0.0})
        lines.append(f"{source:<26}{row['clips']:>7}{row['minutes']:>8.1f}{row['categories']:>6}   "
                     f"{train['clips']:>6}{train['minutes']:>8.1f}   {test['clips']:>5}{test['minutes']:>7.1f}")
    lines.append("-" * len(lines[0]))
    train = s["splits"].get("train", {"clips": 0, "minutes": 0.0})
    test = s["splits"].get("test", {"clips": 0, "minutes": 0.0})
    lines.append(f"{'total':<26}{s['clips']:>7}{s['minutes']:>8.1f}{len(s['categories']):>6}   "
                 f"{train['clips']:>6}{train['minutes']:>8.1f}   {test['clips']:>5}{test['minutes']:>7.1f}")
    lines.append("")
    split_counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for clip in clips:
        split_counts[clip.category][clip.split] += 1
    cells = [f"{cat} {row['clips']} ({split_counts[cat]['test']} test, {row['minutes']:.1f} min)"
             for cat, row in s["categories"].items()]
    lines.append(f"categories ({len(cells)}, {s['categories_with_10_clips']} with at least 10 clips):")
    for i in range(0, len(cells), 3):
        lines.append("  " + " | ".join(cells[i:i + 3]))
    return "\n".join(lines)


LICENSE_URLS = {
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "CC-BY-3.0": "https://creativecommons.org/licenses/by/3.0/",
    "CC-BY-SA-3.0": "https://creativecommons.org/licenses/by-sa/3.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC-BY-2.0": "https://creativecommons.org/licenses/by/2.0/",
    "CC-BY-SA-2.0": "https://creativecommons.org/licenses/by-sa/2.0/",
    "GPL-2": "https://www.gnu.org/licenses/old-licenses/gpl-2.0.html",
    "GPL-2+": "https://www.gnu.org/licenses/old-licenses/gpl-2.0.html",
    "GPL-3+": "https://www.gnu.org/licenses/gpl-3.0.html",
}


def attribution(clips: list[Clip], copyright_texts: dict[str, str] | None = None) -> str:
    """Markdown listing every source package, its version, the licenses of the clips taken and credits."""
    copyright_texts = copyright_texts or {}
    by_source: dict[str, list[Clip]] = defaultdict(list)
    for clip in clips:
        by_source[clip.source].append(clip)
    out = ["# Sound-effects corpus: sources and licenses", "",
           "Every clip was taken from a Debian package, cut, resampled to 16 kHz mono and loudness-normalised. "
           "The licenses below apply to the clips (share-alike licenses apply to the modified clips too).", ""]
    for source in sorted(by_source):
        items = by_source[source]
        versions = sorted({c.source_version for c in items})
        out.append(f"## {source} {', '.join(versions)}")
        out.append("")
        licenses: dict[str, int] = defaultdict(int)
        for clip in items:
            licenses[clip.license or "unknown"] += 1
        out.append("Licenses: " + ", ".join(f"{k} ({v} clips)" for k, v in sorted(licenses.items())))
        links = sorted({LICENSE_URLS[k] for k in licenses if k in LICENSE_URLS})
        if links:
            out.append("License texts: " + ", ".join(links))
        holders: dict[str, set[str]] = defaultdict(set)
        for clip in items:
            credit = clip.extra.get("credit") or clip.extra.get("copyright")
            if credit:
                holders[credit].add(clip.source_path.split("!")[-1])
        if holders:
            out.append("")
            out.append("Credits:")
            for credit in sorted(holders):
                files = sorted(holders[credit])
                shown = ", ".join(files[:4]) + (f" and {len(files) - 4} more" if len(files) > 4 else "")
                out.append(f"- {' '.join(credit.split())} ({shown})")
        if source in copyright_texts:
            out += ["", f"Full terms: the package's Debian copyright file (/usr/share/doc/{source}/copyright), "
                        f"kept beside the corpus as copyright/{source}.txt."]
        out.append("")
    return "\n".join(out)
