"""`t2a-edge convert`: lower a student model to edge-runtime bundles."""

from __future__ import annotations

import json
from pathlib import Path

import click

from t2a_edge.core.bundle import EDGE_BACKENDS, MANIFEST, PRECISIONS
from t2a_edge.core.errors import T2AError
from t2a_edge.core.paths import refuse_to_replace


def resolve_model(model: str) -> Path:
    """A model folder for 'default', a path, or random:<preset> (made once in the cache)."""
    if str(model).startswith("random:"):
        from t2a_edge.convert.export import random_model_dir

        return random_model_dir(str(model).split(":", 1)[1])
    from t2a_edge.runtimes.api import resolve_model_dir

    return resolve_model_dir(model)


def _summary(path: Path, manifest: dict) -> list[str]:
    total = sum(c["bytes"] for c in manifest["components"].values())
    lines = [f"wrote {path} ({manifest['backend']} {manifest['precision']}, {total / 2**20:.1f} MiB)"]
    parity = manifest.get("parity", {})
    for name, comp in manifest["components"].items():
        check = parity.get("components", {}).get(name, {})
        error = check.get("relative_error")
        figure = (f"rel. error vs torch {error:.1e}" if isinstance(error, float)
                  else "structural check passed" if "structural_check" in check else "")
        line = f"  {name:<12} {comp['precision']:<5} {comp['file']:<28} {comp['bytes'] / 2**20:7.1f} MiB  {figure}"
        lines.append(line.rstrip())
        if "quantization" in comp:
            lines.append(f"  {'':<12} int8 choice: {comp['quantization']['reason']}")
    e2e = parity.get("end_to_end", {})
    if "snr_db" in e2e:
        judge = e2e.get("judge_cosine")
        lines.append(f"  end to end vs torch fp32 (same seed): SNR {e2e['snr_db']:.1f} dB, log-mel cosine "
                     f"{e2e['logmel_cosine']:.4f}" + (f", judge embedding cosine {judge:.4f}" if judge is not None else
                                                       (", judge not installed" if "judge_cosine" in e2e else "")))
    elif "skipped" in e2e:
        lines.append(f"  end to end: {e2e['skipped']}")
    return lines


@click.command("convert")
@click.option("--model", default="default", show_default=True,
              help="'default', a model folder, a training run, or random:tiny / random:small (random weights, "
                   "for speed measurements).")
@click.option("--backend", "backend", required=True, type=click.Choice(EDGE_BACKENDS + ("all",)),
              help="Runtime to lower to; 'all' converts for every one.")
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(PRECISIONS),
              help="int8 keeps a component fp32 where int8 measured slower or worse.")
@click.option("--out", "out", default=None, type=click.Path(file_okay=False),
              help="Bundle folder (with --backend all: a folder of <backend>-<precision> bundles). "
                   "Default: the bundle cache that `generate --backend` reads.")
@click.option("--force", is_flag=True, help="Replace an existing bundle.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifests as JSON on stdout.")
def convert(model, backend, precision, out, force, as_json):
    """Export, quantize and check a student model for an edge runtime, writing a bundle folder."""
    import sys

    from t2a_edge.core.bundle import is_bundle
    from t2a_edge.core.model_files import read_model_meta

    if str(model) != "default" and is_bundle(Path(model).expanduser()):
        raise T2AError(f"{model} is already a bundle: pass the model folder it was made from")
    folder = resolve_model(model)
    meta = read_model_meta(folder)
    if meta.get("kind") != "student":
        raise T2AError(f"bundles are for student models (energy head); {folder} is a {meta.get('kind')} model")
    backends = list(EDGE_BACKENDS) if backend == "all" else [backend]
    from t2a_edge.convert.bundle import check_convertible

    for name in backends:
        check_convertible(name, precision)
    from t2a_edge.runtimes.select import cached_bundle_dir, model_sha

    if out is None:
        out_for = lambda b, p: cached_bundle_dir(folder, b, p)  # noqa: E731
    elif backend == "all":
        out_for = lambda b, p: Path(out) / f"{b}-{p}"  # noqa: E731
    else:
        out_for = lambda b, p: Path(out)  # noqa: E731
    say = (lambda msg: click.echo(msg, err=True)) if as_json else click.echo
    todo = []
    for name in backends:
        target = out_for(name, precision)
        if target.exists() and not force:
            from t2a_edge.runtimes.select import _current

            if out is None and _current(target):
                say(f"{name} {precision}: already converted at {target} (pass --force to convert again)")
                continue
            if out is not None or not is_bundle(target):
                refuse_to_replace(target, MANIFEST, "bundle", force)
            say(f"{name} {precision}: the cached bundle is from an older converter; converting again")
        todo.append(name)
    manifests = {}
    if todo:
        from t2a_edge.convert.bundle import convert_bundles
        from t2a_edge.core.model import load_model

        loaded = load_model(folder)
        model_meta = {"sha": model_sha(folder), "source": str(folder.resolve()), "defaults": meta.get("defaults", {})}
        from tqdm import tqdm

        with tqdm(total=1, desc=f"converting ({', '.join(todo)}, {precision})", unit="stage", file=sys.stderr,
                  dynamic_ncols=True, disable=None) as bar:
            def progress(text, done, total):
                bar.total = total
                bar.set_postfix_str(text[:48])
                bar.update(done - bar.n)

            manifests = convert_bundles(loaded, todo, [precision], out_for, model_meta=model_meta,
                                        force=force or out is None,  # stale cache entries are replaced
                                        progress=progress)
    for (name, prec), manifest in manifests.items():
        for line in _summary(out_for(name, prec), manifest):
            say(line)
    if as_json:
        click.echo(json.dumps({f"{b}-{p}": {"path": str(out_for(b, p)), "manifest": m}
                               for (b, p), m in manifests.items()}, indent=2))
