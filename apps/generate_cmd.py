"""`t2a-edge generate`: prompts in, audio files out."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import click

from t2a_edge.core.errors import T2AError
from t2a_edge.core.paths import check_output_file, write_error

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
DEFAULT_BATCH = 8


def slug(prompt: str, taken: set[str]) -> str:
    """A safe, unique file stem from a prompt ("dog barking" -> dog_barking)."""
    stem = re.sub(r"[^a-z0-9]+", "_", prompt.lower()).strip("_")[:60] or "clip"
    name, n = stem, 2
    while name in taken:
        name, n = f"{stem}_{n}", n + 1
    taken.add(name)
    return name


def output_paths(prompts: list[str], output: str | None, force: bool) -> list[Path]:
    """Where each clip goes: -o FILE for one prompt, -o DIR (or the current folder) for several."""
    taken: set[str] = set()
    suffix = Path(output).suffix.lower() if output else ""
    if suffix and suffix not in AUDIO_SUFFIXES and not Path(output).is_dir():
        raise T2AError(f"unsupported output format '{suffix}' for {output}: use .wav, .flac or .ogg, or a folder")
    if suffix in AUDIO_SUFFIXES:
        if len(prompts) > 1:
            raise T2AError(f"{len(prompts)} prompts need -o DIR, not the single file {output}")
        paths = [Path(output)]
    else:
        folder = Path(output) if output else Path.cwd()
        if folder.exists() and not folder.is_dir():
            raise T2AError(f"-o {folder}: not a folder, and not a .wav/.flac/.ogg file name")
        if output:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise write_error(folder, exc) from None
        paths = [folder / f"{slug(p, taken)}.wav" for p in prompts]
    for path in paths:
        check_output_file(path, force)
    return paths


def read_prompts(prompts: tuple[str, ...], prompts_file: str | None) -> list[str]:
    found = list(prompts)
    if prompts_file:
        try:
            text = Path(prompts_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise T2AError(f"cannot read --prompts-file {prompts_file}: {exc}") from None
        found += [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not found:
        raise T2AError('no prompt given: t2a-edge generate "dog barking"')
    for prompt in found:
        if not prompt.strip():
            raise T2AError('a prompt is empty: describe the sound, e.g. "dog barking"')
    return found


@click.command("generate")
@click.argument("prompts", nargs=-1)
@click.option("-o", "--output", default=None, help="Output file (one prompt) or folder (several).")
@click.option("--prompts-file", type=click.Path(), default=None, help="One prompt per line.")
@click.option("--seconds", type=float, default=None, help="Length of each clip [model default].")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--steps", type=int, default=None, help="Generation iterations K [model default].")
@click.option("--cfg", type=float, default=None, help="Classifier-free guidance scale [model default].")
@click.option("--temperature", type=float, default=None, help="Sampling temperature [model default].")
@click.option("--noise-correlation", type=float, default=None,
              help="Students: correlate the head's noise along time over this many tokens (smoother, "
                   "recognised less often) [model default, 0].")
@click.option("--anchors", type=int, default=None,
              help="Draw this many tokens in the first of K >= 2 steps, the rest after them [model default].")
@click.option("--spread", type=float, default=None,
              help="Scale each generated latent's distance from the corpus mean (1: as drawn) [model default].")
@click.option("--smooth", type=float, default=None,
              help="Smooth the clip's loudness along time over this many ms (0: as drawn) [model default].")
@click.option("--teacher-steps", type=int, default=None, help="Teacher models: diffusion steps per iteration.")
@click.option("--model", default="default", show_default=True, help="'default', a model folder or a bundle.")
@click.option("--backend", default="auto", show_default=True,
              help="auto, torch, cuda, onnx, openvino, coreml or executorch. auto runs on a converted bundle in the "
                   "cache (the fastest whose quality check passed) or else on torch at once, and says which; "
                   "`t2a-edge convert` makes the bundles. A named edge backend converts on first use.")
@click.option("--precision", default=None,
              help="fp32, fp16 or int8 (edge backends). Default: with --backend auto, the fastest converted bundle "
                   "whose quality check passed (int8 first), else fp32; fp32 otherwise.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None, help="Torch device.")
@click.option("--spectrogram", type=click.Path(dir_okay=False), default=None, help="Also save a spectrogram PNG.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per clip on stdout.")
@click.option("--batch", "batch_size", type=click.IntRange(min=1), default=DEFAULT_BATCH, show_default=True,
              help="Prompts generated at a time; each batch's files are written as it finishes. Memory grows "
                   "with it; the clips do not change.")
def generate(prompts, output, prompts_file, seconds, seed, steps, cfg, temperature, noise_correlation, anchors,
             spread, smooth, teacher_steps, model, backend, precision, device, spectrogram, force, as_json, batch_size):
    """Generate one clip per PROMPT (--batch at a time) and write them as 16 kHz audio files."""
    import time

    prompt_list = read_prompts(prompts, prompts_file)
    paths = output_paths(prompt_list, output, force)
    if spectrogram:  # refused now, not after the audio is written
        from t2a_edge.apps.spectrogram import check_spectrogram_path

        check_spectrogram_path(spectrogram, force)
    say = (lambda msg: click.echo(msg, err=True)) if as_json else click.echo
    from t2a_edge.core.settings import AS_DRAWN, Settings
    from t2a_edge.runtimes.api import PromptCutWarning, TextToAudio, check_before_load

    settings = Settings(seconds=seconds, steps=steps, cfg=cfg, temperature=temperature,
                        noise_correlation=noise_correlation, anchors=anchors, spread=spread, smooth=smooth, seed=seed,
                        teacher_steps=teacher_steps)
    # The whole request, against the model's JSON, before a load that may convert a bundle.
    check_before_load(model, prompt_list, settings)

    started = time.perf_counter()
    tta = TextToAudio.load(model, backend=backend, precision=precision, device=device)
    load_seconds = time.perf_counter() - started
    used = settings.resolve(tta.defaults, tta.backend.kind)
    tta.check(prompt_list, used)
    # Named among the defaults used: these four always, the others where the model sets them (spread: not 1).
    shown = ("seconds", "steps", "cfg", "temperature") + tuple(
        key for key, neutral in AS_DRAWN.items() if tta.defaults.get(key, neutral) != neutral)
    defaulted = [f"{k}={tta.defaults[k]:g}" for k in shown if getattr(settings, k) is None]
    say(f"backend: {tta.backend.name} {tta.backend.precision} ({tta.why}); model: {tta.source}")
    if defaulted:
        say(f"model defaults used: {', '.join(defaulted)}")
    for line in tta.prompt_cuts(prompt_list):  # said here once, not again as the API's warning
        say(f"note: {line}")
    n_tokens = tta.backend.config.tokens_for(used.seconds)
    batches = math.ceil(len(prompt_list) / batch_size)
    bar = None  # the current batch's progress bar: one per batch, so the lines it writes sit between bars
    made = _quietly(tta.generate_batches(prompt_list, batch_size, settings, progress=lambda count: bar.update(count)),
                    PromptCutWarning)
    timings, kept = {}, []
    for index in range(batches):
        first = index * batch_size
        last = min(first + batch_size, len(paths))
        label = "generating" if batches == 1 else f"generating {first + 1}-{last} of {len(paths)}"
        with click.progressbar(length=n_tokens, label=label, file=sys.stderr,
                               hidden=as_json or not sys.stderr.isatty()) as bar:
            clips = next(made)
        for clip, path in zip(clips, paths[first:]):
            clip.save(path, overwrite=force)
            _report(clip, path, load_seconds, as_json)
        for stage, spent in clips[0].info["timings"].items():
            timings[stage] = timings.get(stage, 0.0) + spent
        if spectrogram:
            kept += clips
    if spectrogram:
        from t2a_edge.apps.spectrogram import save_spectrogram

        save_spectrogram(kept, spectrogram, overwrite=force)
    if not as_json:
        rtf = timings["total"] / (used.seconds * len(paths))
        click.echo(f"timings: load {load_seconds:.2f} s, text {timings['text']:.3f} s, steps {timings['steps']:.3f} s, "
                   f"decode {timings['decode']:.3f} s, total {timings['total']:.2f} s (real-time factor {rtf:.3f})")
        if spectrogram:
            click.echo(f"wrote {spectrogram}")


def _quietly(batches, category):
    """The batches, each made with the API's warnings of `category` silenced (the CLI said them)."""
    import warnings

    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category)
            try:
                batch = next(batches)
            except StopIteration:
                return
        yield batch


def _report(clip, path: Path, load_seconds: float, as_json: bool) -> None:
    """The line for one written clip: JSON with how it was made (its settings), or a sentence."""
    if as_json:
        from t2a_edge.core.settings import Settings

        settings = {k: clip.info[k] for k in Settings.names() if k not in ("seconds", "teacher_steps")}
        click.echo(json.dumps({"file": str(path), "prompt": clip.prompt, "seconds": clip.seconds,
                               "sample_rate": clip.sample_rate, "backend": clip.info["backend"],
                               "precision": clip.info["precision"], **settings,
                               "timings": {"load": load_seconds, **clip.info["timings"]}}))
    else:
        click.echo(f"wrote {path} ({clip.seconds:.2f} s): {clip.prompt}")
