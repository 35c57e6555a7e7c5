"""`t2a-edge cache`: what the cache holds, and removing what nothing reads any more."""

from __future__ import annotations

import json
from pathlib import Path

import click


def _mib(count: int) -> str:
    return f"{count / 2**20:.1f} MiB"


def _features_dir() -> Path:
    from t2a_edge.core.paths import judge_dir

    return judge_dir() / "features"


def _other_parts() -> dict[str, tuple[Path, str]]:
    """Cache parts besides the bundles: {label: (folder, what removes or remakes it)}."""
    from t2a_edge.core import paths

    return {"judge features": (_features_dir(), "kept under T2A_EDGE_FEATURES_MB, 1024 by default; "
                                                "t2a-edge cache clean --features; recomputed by eval"),
            "corpus": (paths.corpus_dir(), "made by t2a-edge data build"),
            "random-weight models": (paths.cache_dir() / "random-models", "speed tests; made again on use"),
            "native runner": (paths.cache_dir() / "native", "t2a-edge native build; made again on use")}


@click.group("cache")
def cache():
    """List or clean the cache (converted bundles, judge features)."""


@cache.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def list_cache(as_json):
    """Every cached bundle, its size and whether anything still uses it; other cache parts' sizes."""
    from t2a_edge.core.paths import bundles_dir
    from t2a_edge.runtimes.bundle_cache import folder_bytes, scan

    entries = scan()
    others = {label: folder_bytes(folder) if folder.is_dir() else 0 for label, (folder, _) in _other_parts().items()}
    if as_json:
        click.echo(json.dumps({"bundles": [{"path": str(e.path), "model_sha": e.model_sha, "name": e.name,
                                            "bytes": e.bytes, "status": e.status, "stale": e.stale,
                                            "source": e.source} for e in entries],
                               "other": others}))
        return
    click.echo(f"bundles in {bundles_dir()}:")
    for e in entries:
        source = f"  ({e.source})" if e.source else ""
        click.echo(f"  {e.model_sha}/{e.name:<16} {_mib(e.bytes):>10}  {e.status}{source}")
    if not entries:
        click.echo("  none (a backend's bundle is converted on first use)")
    stale = [e for e in entries if e.stale]
    if stale:
        click.echo(f"  {len(stale)} unused, {_mib(sum(e.bytes for e in stale))}: t2a-edge cache clean removes them")
    click.echo("other:")
    for label, (folder, how) in _other_parts().items():
        click.echo(f"  {label:<21} {_mib(others[label]):>10}  {folder} ({how})")


@cache.command("clean")
@click.option("--all", "everything", is_flag=True,
              help="Remove every bundle, used or not (each is converted again on its first use).")
@click.option("--features", is_flag=True, help="Also remove the judge's feature cache (eval recomputes it).")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
def clean(everything, features, dry_run):
    """Remove bundles nothing reads any more: of models that changed or are gone, of older converters,
    and folders of interrupted conversions. The corpus and the judge model are never touched."""
    from t2a_edge.runtimes.bundle_cache import folder_bytes, remove, remove_folder, scan

    entries = scan()
    chosen = [e for e in entries if e.stale or (everything and not e.busy)]
    busy = [e for e in entries if e.busy]
    extra = _features_dir() if features and _features_dir().is_dir() else None
    verb = "would remove" if dry_run else "removed"
    freed = 0
    for entry in chosen:
        freed += entry.bytes if dry_run else remove(entry)
        click.echo(f"{verb} {entry.path} ({_mib(entry.bytes)}: {entry.status})")
    if extra is not None:
        size = folder_bytes(extra)
        if not dry_run:
            remove_folder(extra)  # the feature cache recomputes an entry it cannot find
        freed += size
        click.echo(f"{verb} {extra} ({_mib(size)}: judge features)")
    if busy:
        click.echo(f"kept {len(busy)} folder{'' if len(busy) == 1 else 's'} of a conversion that may still be "
                   f"running ({_mib(sum(e.bytes for e in busy))}): an hour old, clean removes them as interrupted")
    if not chosen and extra is None:
        click.echo("nothing to remove: every cached bundle is in use (--all removes them too)")
        return
    count = len(chosen) + (extra is not None)
    click.echo(f"{verb} {count} folder{'' if count == 1 else 's'}, {_mib(freed)}")
