"""`t2a-edge lab codec|coherence|tokens|phase|heldout|real`: research probes beside `eval`.

They measure where the figures of `eval` come from (the codec and phase ceilings, real tokens
rearranged, clips in token space, the held-out loss, the real clips alone) and share `eval`'s
options, judge and tables.
"""

from __future__ import annotations

import re

import click

from t2a_edge.apps.eval_cmd import (Session, check_inputs, common_options, data_option, finish, force_option,
                                    generation_options, load_rows, model_key, output_folder, reconstruction_row)
from t2a_edge.core.errors import T2AError


def listed_numbers(text: str, option: str, minimum: int, kind=int) -> list:
    """A comma-separated option value as numbers of `kind`, each at least `minimum`, or one clear error."""
    try:
        numbers = [kind(part) for part in text.split(",")]
    except ValueError:
        what = "whole numbers" if kind is int else "numbers"
        raise T2AError(f"{option} takes {what} separated by commas, got '{text}'") from None
    if not all(number >= minimum for number in numbers):  # also refuses nan
        raise T2AError(f"{option} must list values >= {minimum}")
    return numbers


@click.command("codec")
@click.option("--model", default="default", show_default=True, metavar="PATH|default",
              help="Model whose codec to test.")
@click.option("--out", default=None, metavar="DIR", help="Keep the reconstructions here as <id>.wav.")
@common_options
@force_option
def codec(model, out, data, split, limit, json_path, table_path, threads, force):
    """The codec ceiling: real clips encoded and decoded, scored and compared with the originals."""
    from t2a_edge.apps.evaluation import generation

    check_inputs(json_path=json_path, table_path=table_path, force=force, out=out)
    tta = generation.load_model(model, "torch")
    session = Session(data, split, limit, threads)
    rows = [session.real_row(), reconstruction_row(session, "codec reconstruction", tta.codec_roundtrip, out)]
    _finish_reconstructions(rows, json_path, table_path, split=split, data=session.manifest, model=model)


@click.command("coherence")
@click.option("--model", default="default", show_default=True, metavar="PATH|default",
              help="Model whose codec encodes and decodes the tokens.")
@click.option("--pool", "pool_split", default="train", show_default=True,
              help="Manifest split whose clips supply the tokens.")
@click.option("--seconds", type=float, default=None, help="Length of each arranged clip [default: the model's].")
@click.option("--seed", type=int, default=0, show_default=True, help="Base seed; each clip's also depends on its id.")
@click.option("--runs", default="", metavar="L,...",
              help="Also score clips built from runs of L consecutive tokens of random clips of the category "
                   "(what a token-by-token sampler would score with L-times-longer tokens).")
@click.option("--out", default=None, metavar="DIR", help="Keep the arranged clips here as <row>/<id>.wav.")
@common_options
@force_option
def coherence(model, pool_split, seconds, seed, runs, out, data, split, limit, json_path, table_path, threads, force):
    """Real training tokens arranged three ways: whole clips, shuffled in time, mixed across a category
    (with --runs, also mixed in runs of L tokens).

    Each test clip gets tokens of training clips of its category, decoded by the model's codec. The
    "mixed" row is what a sampler that draws every token on its own (a student at K = 1) scores if
    it learns each token's distribution exactly; the whole clip is what a coherent sound scores.
    """
    from t2a_edge.apps.lab import coherence as arrangements
    from t2a_edge.apps.evaluation import generation
    from t2a_edge.core.audio import load_audio, save_audio
    from t2a_edge.core.phase import synthesize
    from t2a_edge.train.manifest import read_manifest

    check_inputs(seconds, json_path, table_path, force=force, out=out)
    run_lengths = listed_numbers(runs, "--runs", minimum=1) if runs else []
    tta = generation.load_model(model, "torch")
    backend = tta.backend
    if not hasattr(backend, "encode_tokens"):
        raise T2AError(f"lab coherence needs a model folder on the torch backend, not {backend.name}")
    session = Session(data, split, limit, threads)
    pool_clips = read_manifest(session.manifest, pool_split)
    # Positions, as a generation fills them: a summary model's decoder drops the first.
    n = backend.config.tokens_for(seconds or tta.defaults["seconds"])
    pools = arrangements.category_pools(lambda clip: backend.encode_tokens(load_audio(clip.audio)), pool_clips)
    items = [item for item in session.items if item.category in pools]
    if not items:
        raise T2AError(f"no {split} clip has a category with clips in split '{pool_split}'")
    if len(items) < len(session.items):
        click.echo(f"warning: {len(session.items) - len(items)} {split} clip(s) left out: no '{pool_split}' clip "
                   "of their category", err=True)
    arranged = {item.id: arrangements.arrange(pools[item.category], n, seed, item.id) for item in items}
    labels = dict(arrangements.ARRANGEMENTS)
    for length in run_lengths:
        labels[f"runs{length}"] = arrangements.run_label(length)
        for item in items:
            arranged[item.id][f"runs{length}"] = arrangements.arrange_runs(pools[item.category], n, length, seed,
                                                                         item.id)
    rows = []
    with output_folder(out) as folder:
        rows.append(reconstruction_row(session, "codec reconstruction (ceiling)", tta.codec_roundtrip,
                                       folder / "codec"))
        for key, label in labels.items():
            files = []
            (folder / key).mkdir(parents=True, exist_ok=True)
            for item in items:
                wave = synthesize(backend.decode(arranged[item.id][key][None]), backend.config.codec)[0]
                files.append(save_audio(folder / key / f"{item.id}.wav", wave, overwrite=True))
            rows.append(session.score_files(label, items, files))
    rows.insert(0, session.real_row())
    finish(rows, json_path, table_path, split=split, pool=pool_split, data=session.manifest, model=model,
           seconds=n * backend.config.token_samples / backend.config.codec.sample_rate, seed=seed)


@click.command("tokens")
@click.argument("configs", nargs=-1)
@click.option("--model", default="default", show_default=True, metavar="PATH|default",
              help="Student model for student rows; its encoder reads every row's audio.")
@click.option("--teacher", default=None, metavar="PATH", help="Teacher model, for teacher rows.")
@click.option("--pool", "pool_split", default="train", show_default=True,
              help="Manifest split whose real clips give the category centroids.")
@generation_options
@data_option
@click.option("--split", default="test", show_default=True, help="Manifest split whose captions prompt the rows.")
@click.option("--limit", type=int, default=None, help="Use at most N captions (round-robin over categories).")
@click.option("--json", "json_path", default=None, metavar="FILE", help="Write all figures as JSON ('-' for stdout).")
@click.option("--table", "table_path", default=None, metavar="FILE.md", help="Write the markdown table.")
@force_option
def tokens(configs, model, teacher, pool_split, backend, seconds, seed, out, data, split, limit, json_path,
           table_path, force):
    """Clip statistics in token space, no judge: within-clip spread, the clip means' share of the
    variance, and whether each clip's mean lands nearest its caption's category.

    CONFIGS as in `eval compare` (default: student:K=1). Real clips of the split come first; generated
    clips are read back through --model's encoder, so every row is measured the same way.
    """
    import numpy as np

    from t2a_edge.apps.evaluation import generation, report, scoring
    from t2a_edge.apps.lab import token_stats
    from t2a_edge.core.audio import load_audio
    from t2a_edge.core.paths import corpus_dir
    from t2a_edge.train.manifest import read_manifest

    check_inputs(seconds, json_path, table_path, force=force, out=out)
    if limit is not None and limit < 2:
        raise T2AError("--limit must be at least 2: the statistics compare clips with each other")
    parsed, models = load_rows(configs or ("student:K=1",), model, teacher, backend)
    reader = models.get((model, "torch")) or generation.load_model(model, "torch")
    if not hasattr(reader.backend, "encode_tokens"):
        raise T2AError(f"lab tokens needs --model to be a model folder for the torch backend, not {model}")
    encode = reader.backend.encode_tokens
    manifest = str(data or corpus_dir())
    items = scoring.load_items(manifest, split, limit)
    pool = read_manifest(manifest, pool_split)  # refuses a split with no clips
    if len(items) < 2:
        raise T2AError(f"lab tokens needs at least 2 '{split}' clips, {manifest} has {len(items)}")
    centroids = token_stats.CategoryCentroids(np.stack([encode(load_audio(c.audio)).mean(0) for c in pool]),
                                              [c.category for c in pool])
    categories = [item.category for item in items]
    real = [encode(load_audio(item.reference)) for item in items]
    rows = [token_stats.row(f"real {split} clips", real, categories, centroids)]
    with output_folder(out) as folder:
        for index, config in enumerate(parsed):
            sub = folder / f"{index:02d}-{re.sub(r'[^A-Za-z0-9.]+', '_', config.label)}"
            files, _ = generation.generate_set(models[model_key(config, model, teacher, backend)], items, sub, config,
                                               seconds, seed)
            rows.append(token_stats.row(config.label, [encode(load_audio(f)) for f in files], categories, centroids))
    chance = 1 / len(centroids.names)
    text = token_stats.markdown(rows, chance)
    click.echo(text)
    report.write_outputs({"split": split, "pool": pool_split, "data": manifest, "model": model, "teacher": teacher,
                          "seed": seed, "chance": chance, "rows": rows}, text, json_path, table_path)


@click.command("phase")
@click.option("--iterations", default="0,4,16", show_default=True,
              help="Griffin-Lim iteration counts to compare (0 = the fixed random start phase).")
@click.option("--momentum", default="0", show_default=True,
              help="Fast Griffin-Lim momentum values to compare at each count (0 = plain Griffin-Lim).")
@common_options
@force_option
def phase(iterations, momentum, data, split, limit, json_path, table_path, threads, force):
    """How much the codec's phase recovery costs: real clips rebuilt from their true STFT magnitudes."""
    counts = listed_numbers(iterations, "--iterations", minimum=0)
    momenta = listed_numbers(momentum, "--momentum", minimum=0, kind=float)
    check_inputs(json_path=json_path, table_path=table_path, force=force)
    import numpy as np
    import torch

    from t2a_edge.core.config import CodecConfig
    from t2a_edge.core.phase import PhaseRecovery
    from t2a_edge.core.spectral import stft_magnitude

    session = Session(data, split, limit, threads)
    cfg = CodecConfig()
    rows = [session.real_row()]
    # Momentum only acts from the second iteration on: fewer iterations get one row.
    variants = dict.fromkeys((count, value if count > 1 else 0.0) for count in counts for value in momenta)
    for count, value in variants:
        griffin_lim = PhaseRecovery(cfg.n_fft, cfg.hop, count, value)

        def rebuild(samples, griffin_lim=griffin_lim):
            frames = len(samples) // cfg.hop
            magnitude = stft_magnitude(torch.from_numpy(np.asarray(samples, np.float32))[None], cfg.n_fft, cfg.hop)
            return griffin_lim(magnitude[..., :frames].numpy())[0]

        label = f"true magnitude, {count} Griffin-Lim iterations" + (f", momentum {value:g}" if value else "")
        rows.append(reconstruction_row(session, label, rebuild, None))
    _finish_reconstructions(rows, json_path, table_path, split=split, data=session.manifest)


def _finish_reconstructions(rows, json_path, table_path, **meta) -> None:
    from t2a_edge.apps.evaluation import report

    recon_table = report.markdown(rows[1:], columns=(report.COLUMNS[0], *report.RECON_COLUMNS), notes=None)
    finish(rows, json_path, table_path, [recon_table], **meta)


@click.command("heldout")
@click.option("--model", default="default", show_default=True, metavar="PATH|default",
              help="Teacher or student model (or its run folder).")
@data_option
@click.option("--split", default="test", show_default=True, help="Manifest split the clips come from.")
@click.option("--batches", type=int, default=40, show_default=True, help="Fixed batches of 16 clips to average.")
@click.option("--full-mask-share", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="Share of examples with every token hidden (1: the one-step state).")
@click.option("--hidden-share", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Instead of the training masks, hide this share of every clip's tokens at random positions "
                   "(0.1 against 1: how much the model draws on revealed tokens).")
@click.option("--json", "json_path", default=None, metavar="FILE", help="Write the figures as JSON ('-' for stdout).")
@force_option
def heldout(model, data, split, batches, full_mask_share, hidden_share, json_path, force):
    """The model's own training loss on clips it never saw: own caption, another clip's, none.

    A training loss that falls while this one rises is over-fitting; `caption gain` is how much
    lower the loss is with the clip's caption than with the null text.
    """
    from t2a_edge.apps.evaluation import report
    from t2a_edge.core.paths import corpus_dir
    from t2a_edge.runtimes.api import resolve_model_dir
    from t2a_edge.train.heldout import heldout_loss

    check_inputs(json_path=json_path, force=force)
    if batches < 1:
        raise T2AError("--batches must be at least 1")
    result = heldout_loss(resolve_model_dir(model), str(data or corpus_dir()), split, batches,
                          full_mask_share=full_mask_share, hidden_share=hidden_share)
    result["model"] = str(model)
    text = (f"| model | {result['loss']} loss, own caption | another clip's caption | null text | caption gain |\n"
            f"|---|---:|---:|---:|---:|\n| {model} ({result['kind']}, {result['clips']} {split} clips) | "
            f"{result['own']:.4f} | {result['other']:.4f} | {result['null']:.4f} | {100 * result['caption_gain']:.1f}% |\n")
    click.echo(text)
    report.write_outputs(result, text, json_path, None)


@click.command("real")
@common_options
@force_option
def real(data, split, limit, json_path, table_path, threads, force):
    """Judge the real clips alone: the ceiling figures and each category's top-1 classes."""
    from t2a_edge.apps.evaluation import scoring

    check_inputs(json_path=json_path, table_path=table_path, force=force)
    session = Session(data, split, limit, threads)
    row = session.real_row()
    top1 = scoring.top1_by_category(session.references(), session.items, session.class_names)
    lines = ["| category | clips | top-1 classes (count) |", "|---|---:|---|"]
    for cat, counts in top1.items():
        shown = ", ".join(f"{name} ({n})" for name, n in list(counts.items())[:4])
        lines.append(f"| {cat} | {sum(counts.values())} | {shown} |")
    finish([row], json_path, table_path, ["\n".join(lines) + "\n"], split=split, data=session.manifest,
           top1_by_category=top1)
