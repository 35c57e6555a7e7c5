"""`t2a-edge eval`: score a model or a folder of clips with the YAMNet judge; `eval compare`, the
paper-style table. The research probes built on these helpers are `t2a-edge lab` (apps/lab/probes.py)."""

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
