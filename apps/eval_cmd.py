"""`t2a-edge eval`: score generated audio with the YAMNet judge; `compare`, `codec`, `coherence`, `real`;
`tokens` measures clips in token space without it."""

from __future__ import annotations

import contextlib
import re
import tempfile
from pathlib import Path

import click

from t2a_edge.core.errors import T2AError
from t2a_edge.core.paths import check_output_file

DEFAULT_STUDENT = ("student:K=64", "student:K=8", "student:K=1")
DEFAULT_TEACHER = ("teacher:K=64,S=100",)  # added to the defaults when --teacher is given


def data_option(f):
    return click.option("--data", default=None, metavar="MANIFEST",
                        help="Corpus manifest or its folder [default: the built corpus].")(f)


def common_options(f):
    """Options every scoring command shares."""
    for decorator in reversed((
        data_option,
        click.option("--split", default="test", show_default=True, help="Manifest split to evaluate on."),
        click.option("--limit", type=int, default=None,
                     help="Use at most N captions (round-robin over categories)."),
        click.option("--json", "json_path", default=None, metavar="FILE",
                     help="Write all figures as JSON ('-' for stdout)."),
        click.option("--table", "table_path", default=None, metavar="FILE.md", help="Write the markdown table."),
        click.option("--threads", type=int, default=None,
                     help="Judge threads [default: 1, or $T2A_EDGE_JUDGE_THREADS]."),
    )):
        f = decorator(f)
    return f


def force_option(f):
    """--force: the scoring commands' outputs may replace a user's files only when asked."""
    return click.option("--force", is_flag=True,
                        help="Overwrite existing --json/--table files and write into a non-empty --out.")(f)


def generation_options(f):
    """Options of commands that generate audio."""
    for decorator in reversed((
        click.option("--backend", default="torch", show_default=True, help="Runtime backend for generation."),
        click.option("--seconds", type=float, default=None,
                     help="Length of each generated clip [default: the model's]."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Base seed; each clip's seed also depends on its id."),
        click.option("--out", default=None, metavar="DIR",
                     help="Keep the generated WAVs here as <id>.wav [default: discard]."),
    )):
        f = decorator(f)
    return f


class Session:
    """Items, judge, feature cache and category map for one evaluation run."""

    def __init__(self, data, split, limit, threads):
        from t2a_edge.apps.evaluation import scoring
        from t2a_edge.core.paths import corpus_dir

        if limit is not None and limit < 1:
            raise T2AError("--limit must be at least 1")
        self.split = split
        self.manifest = str(data or corpus_dir())
        self.items = scoring.load_items(self.manifest, split, limit)
        missing = [str(i.reference) for i in self.items if not i.reference.is_file()]
        if missing:
            raise T2AError(f"{len(missing)} reference clip(s) of the manifest are missing, e.g. {missing[0]}")
        self.accepted = scoring.accepted_lookup()
        if self.accepted is None:
            click.echo("warning: no category map (t2a_edge.train.corpus.categories): hit-rate not scored", err=True)
        self.threads = threads
        self._cache = self._references = None

    @property
    def cache(self):
        """The feature cache; the judge is fetched and loaded on first use, after inputs are checked."""
        if self._cache is None:
            from t2a_edge.apps.evaluation.cache import FeatureCache
            from t2a_edge.apps.evaluation.judge import Judge

            self._cache = FeatureCache(Judge(threads=self.threads))
        return self._cache

    @property
    def class_names(self):
        return self.cache.judge.class_names

    def references(self, items=None):
        """Judge features of the real clips (all items, or the given subset)."""
        if self._references is None:
            self._references = dict(zip((i.id for i in self.items),
                                        self.cache.many([i.reference for i in self.items], "judging real clips")))
        return [self._references[i.id] for i in (items or self.items)]

    def real_row(self) -> dict:
        """The real-clip ceiling row."""
        from t2a_edge.apps.evaluation import scoring

        row = scoring.score_real(self.references(), self.items, self.class_names, self.accepted)
        return {"system": f"real {self.split} clips (ceiling)", **row}

    def score_files(self, name, items, files, paired=True, **extra) -> dict:
        """A row for candidate files paired with `items`."""
        from t2a_edge.apps.evaluation import scoring

        candidates = self.cache.many(files, f"judging {name}")
        row = scoring.score(candidates, self.references(items), items, self.class_names, self.accepted, paired)
        return {"system": name, **extra, **row}


def finish(rows, json_path, table_path, extra_tables=(), **meta) -> None:
    """Print the table, then write JSON and markdown where asked."""
    from t2a_edge.apps.evaluation import report

    table = report.markdown(rows)
    per_category, heard = report.category_table(rows), report.heard_table(rows)
    text = "\n".join([table, *(t for t in (per_category, heard) if t), *extra_tables])
    click.echo(text)
    report.write_outputs({**meta, "rows": rows}, text, json_path, table_path)


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


@contextlib.contextmanager
def output_folder(out):
    """The folder generated audio goes to: `--out`, or a temporary one removed afterwards."""
    if out:
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise T2AError(f"--out {path} exists and is not a folder")
        path.mkdir(parents=True, exist_ok=True)
        yield path
    else:
        with tempfile.TemporaryDirectory(prefix="t2a-eval-") as tmp:
            yield Path(tmp)


def check_inputs(seconds=None, json_path=None, table_path=None, force=False, out=None):
    """Refuse bad settings, and outputs that would replace a user's files, before any work starts."""
    if seconds is not None and seconds <= 0:
        raise T2AError("--seconds must be positive")
    for flag, target in (("--json", json_path), ("--table", table_path)):
        if not target or target == "-":
            continue
        check_output_file(target, force, flag)
    if out and Path(out).is_dir() and any(Path(out).iterdir()) and not force:
        raise T2AError(f"--out {out} is not empty: clips are written as <id>.wav there; pass --force to write into it")


@click.group("eval", invoke_without_command=True)
@click.option("--model", default=None, metavar="PATH|default", help="Model folder or bundle to generate with.")
@click.option("--generated", default=None, metavar="DIR", help="Score existing <id>.wav files instead of generating.")
@click.option("--steps", "-K", type=int, default=None, help="Masking iterations K.")
@click.option("--teacher-steps", "-S", type=int, default=None, help="Diffusion steps S (teacher models only).")
@click.option("--cfg", type=float, default=None, help="Classifier-free guidance scale.")
@click.option("--temperature", type=float, default=None, help="Sampling temperature.")
@click.option("--spread", type=float, default=None,
              help="Scale generated latents toward the corpus mean (1: as drawn).")
@click.option("--smooth", type=float, default=None, help="Smooth the clips' loudness over this many ms (0: none).")
@generation_options
@common_options
@click.pass_context
@force_option
def eval_group(ctx, model, generated, steps, teacher_steps, cfg, temperature, spread, smooth, backend, seconds, seed,
               out, data, split, limit, json_path, table_path, threads, force):
    """Generate one clip per test caption (fixed seeds) and score it, or score --generated DIR.

    Prints FAD, KL, IS and hit-rate for the system next to the real clips' own figures.
    """
    if ctx.invoked_subcommand is not None:
        return
    from t2a_edge.apps.evaluation import generation, scoring

    if model is None and generated is None:
        raise T2AError("give --model PATH|default to generate, or --generated DIR to score existing files")
    if model is not None and generated is not None:
        raise T2AError("give either --model or --generated, not both")
    check_inputs(seconds, json_path, table_path, force=force, out=out)
    if spread is not None and not spread > 0:
        raise T2AError("--spread must be > 0")
    if smooth is not None and not smooth >= 0:
        raise T2AError("--smooth must be >= 0 ms")
    if generated is not None and not Path(generated).is_dir():
        raise T2AError(f"--generated folder {generated} does not exist")
    if model is not None:
        # Fail on a bad model before spending minutes on the reference clips.
        tta = generation.load_model(model, backend)
    session = Session(data, split, limit, threads)
    meta = {"split": split, "data": session.manifest}
    if generated is not None:
        items, files, missing = scoring.match_generated(session.items, Path(generated))
        if missing:
            click.echo(f"warning: scored {len(items)} of {len(session.items)} clips: {len(missing)} have no "
                       f"file in {generated} (e.g. {missing[0]}.wav)", err=True)
        row = session.score_files(Path(generated).resolve().name, items, files)
        meta.update(generated=str(generated))
    else:
        kind = generation.model_kind(tta) or ("teacher" if teacher_steps else "student")
        config = generation.RunConfig(kind, steps=steps, teacher_steps=teacher_steps, cfg=cfg, temperature=temperature,
                                      spread=spread, smooth=smooth, backend=backend)
        defaults = getattr(tta, "defaults", {})
        k, s = steps or defaults.get("steps"), teacher_steps or defaults.get("teacher_steps")
        config.label = f"{kind} K={k}" + (f",S={s}" if kind == "teacher" else "")
        if teacher_steps and kind != "teacher":
            raise T2AError(f"--teacher-steps needs a teacher model, but {model} is a {kind}")
        with output_folder(out) as folder:
            files, timing = generation.generate_set(tta, session.items, folder, config, seconds, seed)
            row = session.score_files(config.label, session.items, files, **timing)
        meta.update(model=model, backend=backend, seconds=seconds, seed=seed)
    rows = [session.real_row(), row]
    finish(rows, json_path, table_path, **meta)


@eval_group.command("compare")
@click.argument("configs", nargs=-1)
@click.option("--model", default="default", show_default=True, metavar="PATH|default",
              help="Student model, for student rows.")
@click.option("--teacher", default=None, metavar="PATH", help="Teacher model, for teacher rows.")
@click.option("--speed-batch", type=int, default=8, show_default=True,
              help="Also time each row with this many prompts per call (s/clip); 0 = skip.")
@click.option("--codec-row", is_flag=True,
              help="Also score --model's codec reconstructions of the real clips: the hit-rate ceiling, same run.")
@generation_options
@common_options
@force_option
def compare(configs, model, teacher, speed_batch, codec_row, backend, seconds, seed, out, data, split, limit,
            json_path, table_path, threads, force):
    """The paper-style table: teacher and student rows, quality and speed from one run.

    CONFIGS are `teacher:K=64,S=100` or `student:K=8`, with optional cfg=, temp=, corr= (student
    noise correlated over that many tokens), spread= (generated latents scaled toward the corpus
    mean), smooth= (ms of loudness smoothing), backend= and prompts=paraphrase settings
    (comma-separated). Teacher rows run the --teacher model, student rows --model; a config's
    model= names another student (e.g. the one trained without distillation).
    Default: student:K=64 student:K=8 student:K=1, plus teacher:K=64,S=100 when --teacher is given.
    Quality and s/clip come from one clip per call; --speed-batch adds s/clip at that batch size.
    """
    import dataclasses

    from t2a_edge.apps.evaluation import generation

    if speed_batch < 0:
        raise T2AError("--speed-batch must be >= 0")
    check_inputs(seconds, json_path, table_path, force=force, out=out)
    configs = configs or ((DEFAULT_TEACHER if teacher else ()) + DEFAULT_STUDENT)
    parsed, models = load_rows(configs, model, teacher, backend)
    session = Session(data, split, limit, threads)
    rows = []
    with output_folder(out) as folder:
        for index, config in enumerate(parsed):
            key = model_key(config, model, teacher, backend)
            sub = folder / f"{index:02d}-{re.sub(r'[^A-Za-z0-9.]+', '_', config.label)}"
            files, timing = generation.generate_set(models[key], session.items, sub, config, seconds, seed)
            if speed_batch:
                timing["latency_batch_s"] = generation.time_batched(models[key], session.items, config, seconds,
                                                                   speed_batch)
            prompted = [dataclasses.replace(item, caption=prompt) for item, prompt
                        in zip(session.items, generation.prompts_for(session.items, config.prompts))]
            rows.append(session.score_files(config.label, prompted, files, **timing))
        if codec_row:
            # The student rows' torch model when there is one: its codec is the one to score.
            codec = models.get((model, "torch")) or generation.load_model(model, "torch")
            rows.insert(0, reconstruction_row(session, "codec reconstruction (ceiling)", codec.codec_roundtrip,
                                              folder / "codec"))
    rows.insert(0, session.real_row())
    finish(rows, json_path, table_path, split=split, data=session.manifest, model=model, teacher=teacher or model,
           backend=backend, seconds=seconds, seed=seed, speed_batch=speed_batch)


def load_rows(configs, model, teacher, backend) -> tuple[list, dict]:
    """Parse row configs and load each (model, backend) they need once, checking teacher/student kinds."""
    from t2a_edge.apps.evaluation import generation

    parsed = [generation.parse_config(c) for c in configs]
    models = {}
    for config in parsed:
        key = model_key(config, model, teacher, backend)
        if key not in models:
            models[key] = generation.load_model(*key)
        generation.check_kind(models[key], config, key[0])
    return parsed, models


def model_key(config, model, teacher, backend) -> tuple[str, str]:
    """(model path, backend) a compare row runs: its own model=, else --teacher for teacher rows, else --model."""
    path = config.model or (teacher if config.name == "teacher" and teacher else model)
    return path, config.backend or backend


@eval_group.command("codec")
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


@eval_group.command("coherence")
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
    from t2a_edge.apps.evaluation import coherence as arrangements
    from t2a_edge.apps.evaluation import generation
    from t2a_edge.core.audio import load_audio, save_audio
    from t2a_edge.core.phase import synthesize
    from t2a_edge.train.manifest import read_manifest

    check_inputs(seconds, json_path, table_path, force=force, out=out)
    run_lengths = listed_numbers(runs, "--runs", minimum=1) if runs else []
    tta = generation.load_model(model, "torch")
    backend = tta.backend
    if not hasattr(backend, "encode_tokens"):
        raise T2AError(f"eval coherence needs a model folder on the torch backend, not {backend.name}")
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


@eval_group.command("tokens")
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

    from t2a_edge.apps.evaluation import generation, report, scoring, token_stats
    from t2a_edge.core.audio import load_audio
    from t2a_edge.core.paths import corpus_dir
    from t2a_edge.train.manifest import read_manifest

    check_inputs(seconds, json_path, table_path, force=force, out=out)
    if limit is not None and limit < 2:
        raise T2AError("--limit must be at least 2: the statistics compare clips with each other")
    parsed, models = load_rows(configs or ("student:K=1",), model, teacher, backend)
    reader = models.get((model, "torch")) or generation.load_model(model, "torch")
    if not hasattr(reader.backend, "encode_tokens"):
        raise T2AError(f"eval tokens needs --model to be a model folder for the torch backend, not {model}")
    encode = reader.backend.encode_tokens
    manifest = str(data or corpus_dir())
    items = scoring.load_items(manifest, split, limit)
    pool = read_manifest(manifest, pool_split)  # refuses a split with no clips
    if len(items) < 2:
        raise T2AError(f"eval tokens needs at least 2 '{split}' clips, {manifest} has {len(items)}")
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


@eval_group.command("phase")
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


def reconstruction_row(session, label, rebuild, out) -> dict:
    """Score `rebuild(original)` of every item like generated audio, plus reconstruction errors."""
    import numpy as np

    from t2a_edge.apps.evaluation import metrics, recon
    from t2a_edge.core.audio import load_audio, save_audio

    errors = {"mel_l1": [], "mrstft": [], "embedding_cosine": [], "top1_agreement": []}
    with output_folder(out) as folder:
        files = []
        for item in session.items:
            original = load_audio(item.reference)
            rebuilt = np.asarray(rebuild(original), dtype=np.float32).reshape(-1)
            path = folder / f"{item.id}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            files.append(save_audio(path, rebuilt, overwrite=True))
            errors["mel_l1"].append(recon.mel_l1(original, rebuilt))
            errors["mrstft"].append(recon.multi_resolution_stft(original, rebuilt))
        row = session.score_files(label, session.items, files)
        for ref, rebuilt in zip(session.references(), session.cache.many(files)):
            errors["embedding_cosine"].append(recon.cosine(ref.embedding, rebuilt.embedding))
            top1 = [metrics.top_k(c.scores, session.class_names, 1) for c in (ref, rebuilt)]
            errors["top1_agreement"].append(float(top1[0] == top1[1]))
    row.update({k: float(np.mean(v)) for k, v in errors.items()})
    return row


def _finish_reconstructions(rows, json_path, table_path, **meta) -> None:
    from t2a_edge.apps.evaluation import report

    recon_table = report.markdown(rows[1:], columns=(report.COLUMNS[0], *report.RECON_COLUMNS), notes=None)
    finish(rows, json_path, table_path, [recon_table], **meta)


@eval_group.command("heldout")
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


@eval_group.command("real")
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
