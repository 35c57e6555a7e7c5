"""`t2a-edge train export`: a trained model folder -> a shareable one (fp16 storage, measured defaults, card)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click

from t2a_edge.core.errors import T2AError

CARD_NAME = "MODEL_CARD.md"


def parse_defaults(steps, cfg, temperature, seconds, spread=None, smooth=None) -> dict:
    """The generation defaults to record, checked as a generate() call checks them."""
    from t2a_edge.core.settings import Settings

    recorded = Settings(steps=steps, cfg=cfg, temperature=temperature, seconds=seconds, spread=spread, smooth=smooth,
                        seed=None).check().given()
    return {k: recorded[k] for k in ("steps", "cfg", "temperature", "seconds", "spread", "smooth") if k in recorded}


@click.command("export", short_help="Write a trained model as a shareable folder with its defaults.")
@click.argument("model")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--half", is_flag=True, help="Store weights as float16 (half the size; computed in float32).")
@click.option("--steps", type=int, default=None, help="Default iterations K to record.")
@click.option("--cfg", type=float, default=None, help="Default guidance scale to record.")
@click.option("--temperature", type=float, default=None, help="Default temperature to record.")
@click.option("--seconds", type=float, default=None, help="Default clip length to record.")
@click.option("--spread", type=float, default=None, help="Default latent spread to record (1: as drawn).")
@click.option("--smooth", type=float, default=None, help="Default loudness smoothing to record, ms (0: none).")
@click.option("--card", type=click.Path(dir_okay=False), default=None, help="Markdown model card to include.")
@click.option("--force", is_flag=True, help="Replace OUT if it already holds a model.")
def export(model, out, half, steps, cfg, temperature, seconds, spread, smooth, card, force):
    """Write MODEL (a model or run folder) to OUT with verified weights, defaults and a model card."""
    import torch

    from t2a_edge.core.model import load_model, save_model
    from t2a_edge.core.model_files import MODEL_FILE, read_model_meta
    from t2a_edge.core.paths import refuse_to_replace
    from t2a_edge.runtimes.api import resolve_model_dir

    source = resolve_model_dir(model)
    defaults = parse_defaults(steps, cfg, temperature, seconds, spread, smooth)
    out = Path(out)
    refuse_to_replace(out, MODEL_FILE, "model folder", force)
    if card and not Path(card).is_file():
        raise T2AError(f"--card {card} does not exist")
    meta = read_model_meta(source)
    net = load_model(source)  # verifies every sha256 on the way in
    if seconds is not None and seconds > net.cfg.max_seconds:
        raise T2AError(f"seconds must be at most {net.cfg.max_seconds:g} for this model, got {seconds:g}")
    extra = {k: v for k, v in meta.items() if k not in ("format", "kind", "config", "files", "parts")}
    extra["defaults"] = {**meta.get("defaults", {}), **defaults}
    extra["storage_dtype"] = "float16" if half else "float32"
    # Written beside OUT and renamed into place, so a failure never leaves half a model behind.
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        save_model(net, staging, extra=extra, dtype=torch.float16 if half else torch.float32)
        if card:
            shutil.copyfile(card, staging / CARD_NAME)
        load_model(staging)  # what we ship must load
        # mkdtemp and the atomic writes create owner-only files: a shared model must be readable by all.
        staging.chmod(0o755)
        for path in staging.iterdir():
            path.chmod(0o644)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    size = sum(p.stat().st_size for p in out.iterdir()) / 1e6
    shown = ", ".join(f"{k}={v:g}" for k, v in extra["defaults"].items()) or "none"
    click.echo(f"wrote {out} ({net.kind}, {size:.1f} MB, {extra['storage_dtype']}; defaults: {shown})")
