"""`t2a-edge data`: build the sound-effects corpus from Debian packages, and inspect it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from t2a_edge.core.paths import check_output_file, corpus_dir


def _dest(dest: str | None) -> Path:
    return Path(dest).expanduser() if dest else corpus_dir()


@click.group("data")
def data():
    """Build and inspect the sound-effects corpus."""


@data.command("build")
@click.option("--dest", type=click.Path(file_okay=False), default=None,
              help="Corpus folder (default: the t2a-edge cache).")
@click.option("--sources", "sources", multiple=True, metavar="PKG",
              help="Debian packages to use (repeatable or comma-separated; default: all known).")
@click.option("--jobs", type=int, default=2, show_default=True, help="Parallel decoding processes.")
@click.option("--debs", type=click.Path(file_okay=False), default=None,
              help="Folder of already downloaded .deb files to use before downloading.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def build_cmd(dest, sources, jobs, debs, quiet):
    """Fetch the packages with apt-get download and build clips and manifest (resumable)."""
    from t2a_edge.train.corpus.build import build
    from t2a_edge.train.corpus.stats import format_table

    names = [s.strip() for group in sources for s in group.split(",") if s.strip()] or None
    folder = _dest(dest)
    report = build(folder, names, jobs=jobs, debs=debs, progress=not quiet,
                   echo=lambda m: click.echo(m, err=True))
    click.echo(format_table(report.clips))
    click.echo("")
    reused = f", {len(report.reused)} up to date" if report.reused else ""
    click.echo(f"built {len(report.built)} source(s){reused} in {report.seconds:.0f} s; "
               f"peak temporary disk {report.peak_temp_bytes / 1e9:.2f} GB; "
               f"{report.dropped_duplicates} duplicate clip(s) dropped")
    click.echo(f"manifest {folder / 'manifest.jsonl'} sha256 {report.manifest_sha256}")


@data.command("stats")
@click.option("--dest", type=click.Path(file_okay=False), default=None, help="Corpus folder.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def stats_cmd(dest, as_json):
    """Summarise an existing corpus: clips, minutes and categories per source and split."""
    from t2a_edge.train.corpus.stats import format_table, summary
    from t2a_edge.train.manifest import read_manifest

    clips = read_manifest(_dest(dest))
    if as_json:
        click.echo(json.dumps(summary(clips), indent=1, sort_keys=True))
    else:
        click.echo(format_table(clips))


@data.command("licenses")
@click.option("--dest", type=click.Path(file_okay=False), default=None, help="Corpus folder.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the attribution list here (default: print it).")
@click.option("--force", is_flag=True, help="Overwrite an existing --output file.")
def licenses_cmd(dest, output, force):
    """Write the attribution list the clips' licenses require (Markdown)."""
    from t2a_edge.core.audio import atomic_write_bytes
    from t2a_edge.train.corpus.build import LICENSES_DIR
    from t2a_edge.train.corpus.stats import attribution
    from t2a_edge.train.manifest import read_manifest

    folder = _dest(dest)
    clips = read_manifest(folder)
    texts = {}
    for clip in clips:
        path = folder / LICENSES_DIR / f"{clip.source}.txt"
        if clip.source not in texts and path.is_file():
            texts[clip.source] = path.read_text(encoding="utf-8", errors="replace")
    text = attribution(clips, texts)
    if output is None:
        click.echo(text)
        return
    out = check_output_file(output, force, "-o")
    atomic_write_bytes(out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    click.echo(f"wrote {out}")
