"""Render evaluation rows as a markdown table and as JSON."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from t2a_edge.core.audio import atomic_write_bytes
from t2a_edge.core.errors import T2AError

COLUMNS = (("system", "system", None), ("clips", "clips", "d"), ("fad", "FAD ↓", ".2f"),
           ("kl", "KL ↓", ".3f"), ("is", "IS ↑", ".2f"), ("hit_rate", "hit-rate ↑", ".1%"),
           ("latency_s", "s / clip", ".2f"), ("rtf", "RTF ↓", ".3f"),
           ("latency_batch_s", "s / clip, batched", ".3f"))
RECON_COLUMNS = (("mel_l1", "mel L1 ↓", ".3f"), ("mrstft", "MR-STFT ↓", ".3f"),
                 ("embedding_cosine", "emb. cosine ↑", ".3f"), ("top1_agreement", "top-1 agree ↑", ".1%"))

NOTES = ("FAD: Fréchet distance of per-patch YAMNet embeddings (1024-d) against the real clips. "
         "KL: mean KL(real ‖ generated) of YAMNet class distributions (per-patch softmax, averaged "
         "over patches), paired by caption. IS over the same distributions. Hit-rate: share of clips "
         "whose top-5 YAMNet classes include one their category accepts. Real row: FAD between two "
         "category-balanced halves, KL between same-category clips of the two halves. "
         "RTF: generation time / audio duration, one clip per call. Batched: s / clip with "
         "--speed-batch prompts per call.")


def _cell(value, fmt) -> str:
    if value is None:
        return "–"
    return value if fmt is None else format(value, fmt)


def markdown(rows: list[dict], columns=COLUMNS, notes: str | None = NOTES) -> str:
    """A markdown table with one row per system; missing values print as a dash."""
    columns = [c for c in columns if c[0] in ("system", "clips") or any(r.get(c[0]) is not None for r in rows)]
    lines = ["| " + " | ".join(title for _, title, _ in columns) + " |",
             "|" + "|".join("---" if key == "system" else "---:" for key, _, _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(key), fmt) for key, _, fmt in columns) + " |")
    return "\n".join(lines) + (f"\n\n{notes}\n" if notes else "\n")


def category_table(rows: list[dict]) -> str:
    """Hit-rate per category (columns: systems), for seeing which categories the judge hears."""
    systems = [r for r in rows if r.get("hit_rate_by_category")]
    if not systems:
        return ""
    cats = sorted({c for r in systems for c in r["hit_rate_by_category"]})
    lines = ["| category | " + " | ".join(r["system"] for r in systems) + " |",
             "|---|" + "---:|" * len(systems)]
    for cat in cats:
        cells = []
        for r in systems:
            entry = r["hit_rate_by_category"].get(cat)
            cells.append(f"{entry['rate']:.0%} ({entry['hits']}/{entry['clips']})" if entry else "–")
        lines.append(f"| {cat} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def heard_table(rows: list[dict], most: int = 3) -> str:
    """Each system's most frequent top-1 judge classes, and its hit-rate with the prompts shuffled
    (metrics.shuffled_hit_rate): a generator that sounds alike for every prompt shows up here as one
    or two classes holding most clips and a shuffled hit-rate near its own, whatever its hit-rate."""
    systems = [r for r in rows if r.get("per_clip")]
    if not systems:
        return ""
    lines = ["| system | top-1 class the judge hears most (share of clips) | hit-rate, prompts shuffled |",
             "|---|---|---:|"]
    for r in systems:
        counts = Counter(clip["top5"][0] for clip in r["per_clip"] if clip.get("top5"))
        total = sum(counts.values())
        cells = ", ".join(f"{name} {n / total:.0%}" for name, n in counts.most_common(most))
        shuffled = r.get("hit_rate_shuffled")
        lines.append(f"| {r['system']} | {cells or '–'} | {'–' if shuffled is None else f'{shuffled:.1%}'} |")
    return "\n".join(lines) + "\n"


def write_outputs(result: dict, table: str, json_path: str | None, table_path: str | None) -> None:
    """Write the JSON (`-` for stdout) and the markdown table where asked."""
    for target, text in ((json_path, json.dumps(result, indent=1, ensure_ascii=False)), (table_path, table)):
        if not target:
            continue
        if target == "-":
            print(text)
            continue
        path = Path(target)
        if not path.parent.is_dir():
            raise T2AError(f"output folder {path.parent} does not exist")
        body = text if text.endswith("\n") else text + "\n"
        atomic_write_bytes(path, lambda tmp, body=body: Path(tmp).write_text(body, encoding="utf-8"))
