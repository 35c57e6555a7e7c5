"""The corpus manifest: one JSON object per line, one line per clip (no torch needed to read it)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from t2a_edge.core.errors import T2AError

MANIFEST_NAME = "manifest.jsonl"
REQUIRED_FIELDS = ("id", "audio", "captions", "category", "split", "duration")


@dataclass
class Clip:
    """One corpus entry; `audio` is relative to the manifest's folder unless absolute."""

    id: str
    audio: str
    captions: list[str]
    category: str
    split: str  # "train" or "test"
    duration: float
    source: str = ""  # Debian package name, or "synthetic"
    source_version: str = ""
    source_path: str = ""  # path inside the package (or container)
    license: str = ""
    extra: dict = field(default_factory=dict)


def manifest_path(path: str | os.PathLike) -> Path:
    """Accept a manifest file or the corpus folder that holds `manifest.jsonl`."""
    path = Path(path)
    return path / MANIFEST_NAME if path.is_dir() else path


def read_manifest(path: str | os.PathLike, split: str | None = None) -> list[Clip]:
    """Read clips (optionally one split), resolving audio paths against the manifest's folder."""
    path = manifest_path(path)
    if not path.is_file():
        raise T2AError(f"no corpus manifest at {path}: build one with `t2a-edge data build`")
    clips = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                missing = [k for k in REQUIRED_FIELDS if k not in row]
                if missing:
                    raise ValueError(f"missing {', '.join(missing)}")
                known = {k: row.pop(k) for k in list(row) if k in Clip.__dataclass_fields__}
                clip = Clip(**known)
                clip.extra.update(row)
            except (ValueError, TypeError) as exc:
                raise T2AError(f"{path}:{number}: bad manifest row ({exc})") from None
            if not os.path.isabs(clip.audio):
                clip.audio = str(path.parent / clip.audio)
            if split is None or clip.split == split:
                clips.append(clip)
    if not clips:
        raise T2AError(f"{path} has no clips" + (f" in split '{split}'" if split else ""))
    return clips


def write_manifest(path: str | os.PathLike, clips: list[Clip]) -> str:
    """Write clips atomically, sorted by id, and return the sha256 of the bytes written."""
    from t2a_edge.core.audio import atomic_write_bytes

    path = Path(path)
    lines = []
    for clip in sorted(clips, key=lambda c: c.id):
        row = asdict(clip)
        extra = row.pop("extra")
        row.update(extra)
        lines.append(json.dumps(row, sort_keys=True, ensure_ascii=False))
    data = ("\n".join(lines) + "\n").encode("utf-8")

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)

    atomic_write_bytes(path, write)
    return hashlib.sha256(data).hexdigest()
