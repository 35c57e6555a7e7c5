"""The converted-bundle cache: what it holds, which bundles are still used, and removing the rest.

Bundles live in bundles_dir()/<model sha>/<backend>-<precision>/ (runtimes.select). The sha is that
of the model's model.json, so a model that changes (a package upgrade of the default, a retrained
run folder) gets new bundles and leaves its old ones behind, about 580 MB for all six edge
bundles of the default model. Nothing reads those again; `t2a-edge cache clean` removes them.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from t2a_edge.core.bundle import CONVERTER_VERSION, read_manifest
from t2a_edge.core.errors import T2AError
from t2a_edge.core.model_files import model_sha as sha_of

# A conversion writes into hidden `.<name>.<random>.part` folders and renames them into place, and
# replaces an old bundle through `.<name>.old-<pid>`. Younger than this, such a folder may belong to
# a conversion still running in another process (a whole conversion takes minutes).
LEFTOVER_AGE_S = 3600.0
CURRENT = "current"


@dataclass
class CacheEntry:
    """One folder of the bundle cache and whether anything still uses it."""

    path: Path
    model_sha: str
    name: str  # <backend>-<precision>, or the hidden folder's name
    bytes: int
    status: str  # CURRENT, or why it is kept or unused
    stale: bool  # nothing will read it again
    source: str | None = None
    busy: bool = False  # a conversion in another process may still be writing it


def folder_bytes(folder: Path) -> int:
    """Bytes of every regular file under `folder` (symlinks not followed)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def bundle_status(folder: Path, model_sha: str) -> tuple[str, bool, str | None]:
    """(status, whether nothing will read it again, source model folder) of one cached bundle."""
    try:
        manifest = read_manifest(folder)
    except T2AError:
        return "unreadable (an older format or damaged)", True, None
    source = (manifest.get("model") or {}).get("source")
    if manifest.get("converter") != CONVERTER_VERSION:
        return f"made by an older converter ({manifest.get('converter')}; it is converted again on use)", True, source
    if not source:
        damage = damaged(folder, manifest)
        return (damage, True, None) if damage else ("kept: its manifest names no model folder", False, None)
    try:
        now = sha_of(Path(source))
    except OSError:
        return "its model folder is gone", True, source
    if now != model_sha:
        return "its model changed since (the model now has other bundles)", True, source
    damage = damaged(folder, manifest)
    if damage:
        return damage, True, source
    return CURRENT, False, source


def damaged(folder: Path, manifest: dict) -> str | None:
    """Why a bundle fails its hash check (what loading it would say, with the command that converts it
    again), or None when every file matches its manifest."""
    from t2a_edge.core.bundle import verify_bundle

    try:
        verify_bundle(folder, manifest)
    except T2AError as exc:
        return f"damaged: {exc}"
    except OSError as exc:
        return f"damaged: cannot read {exc.filename or folder}: {exc.strerror or exc}"
    return None


def scan(root: Path | None = None, now: float | None = None) -> list[CacheEntry]:
    """Every bundle and conversion leftover in the cache, sorted by path."""
    from t2a_edge.core.paths import bundles_dir

    root = Path(root) if root is not None else bundles_dir()
    now = time.time() if now is None else now
    entries = []
    if not root.is_dir():
        return entries
    for model_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        for folder in sorted(p for p in model_dir.iterdir() if p.is_dir() and not p.is_symlink()):
            if folder.name.startswith("."):
                young = now - folder.stat().st_mtime < LEFTOVER_AGE_S
                status = "kept: a conversion may still be writing it" if young else "left by an interrupted conversion"
                entries.append(CacheEntry(folder, model_dir.name, folder.name, folder_bytes(folder), status,
                                          stale=not young, busy=young))
                continue
            status, stale, source = bundle_status(folder, model_dir.name)
            entries.append(CacheEntry(folder, model_dir.name, folder.name, folder_bytes(folder), status, stale, source))
    return entries


def unused_note(root: Path | None = None) -> str | None:
    """One line naming what `t2a-edge cache clean` would free, or None if nothing."""
    stale = [e for e in scan(root) if e.stale]
    if not stale:
        return None
    size = sum(e.bytes for e in stale) / 2**20
    return (f"the cache holds {len(stale)} bundle{'' if len(stale) == 1 else 's'} nothing reads any more "
            f"({size:.1f} MiB): t2a-edge cache clean removes {'it' if len(stale) == 1 else 'them'}")


def remove_folder(path: Path) -> None:
    """Delete a cache folder, renamed to a hidden name first: an interrupted removal never leaves a
    half-deleted folder where a reader looks (a bundle would fail its hash check, not load wrong files)."""
    trash = path if path.name.startswith(".") else path.with_name(f".{path.name}.removing-{os.getpid()}")
    if trash != path:
        os.replace(path, trash)
    shutil.rmtree(trash)


def remove(entry: CacheEntry) -> int:
    """Delete one bundle or leftover folder, and its model's folder once empty; returns the bytes freed."""
    path = entry.path
    if not path.is_dir():
        return 0
    remove_folder(path)
    parent = path.parent
    try:
        parent.rmdir()  # the model's folder, once its last bundle is gone
    except OSError:
        pass
    return entry.bytes
