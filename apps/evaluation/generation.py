"""Drive the generation API over test captions with fixed seeds, timing every clip."""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from t2a_edge.apps.evaluation.scoring import Item
from t2a_edge.core.errors import T2AError


@dataclass
class RunConfig:
    """One system to evaluate: which head, how many iterations, sampling settings."""

    name: str  # "teacher" or "student"
    steps: int | None = None  # K masking iterations
    teacher_steps: int | None = None  # S diffusion steps; set only for the teacher
    cfg: float | None = None
    temperature: float | None = None
    noise_correlation: float | None = None  # students: the head's noise correlated along time (tokens)
    anchors: int | None = None  # tokens the first of K >= 2 steps reveals
    spread: float | None = None  # generated latents' distance from the corpus mean, scaled
    smooth: float | None = None  # ms over which the decoded clip's loudness is smoothed (core.envelope)
    backend: str | None = None
    model: str | None = None  # a model folder for this row only (e.g. the student trained without distillation)
    prompts: str = "captions"  # "captions" (the test captions) or "paraphrase" (apps/evaluation/paraphrases.py)
    label: str = ""
    extra: dict = field(default_factory=dict)


DEFAULTS = {"teacher": {"K": 64, "S": 100}, "student": {"K": 8}}
KEYS = {"K": "steps", "S": "teacher_steps", "cfg": "cfg", "temp": "temperature", "corr": "noise_correlation",
        "anchors": "anchors", "spread": "spread", "smooth": "smooth", "backend": "backend", "prompts": "prompts",
        "model": "model"}
PROMPT_SETS = ("captions", "paraphrase")


def parse_config(text: str) -> RunConfig:
    """Parse `teacher:K=64,S=100` or
    `student:K=8,cfg=3,temp=0.7,corr=2,spread=0.7,smooth=50,backend=onnx,prompts=paraphrase`."""
    name, _, rest = text.partition(":")
    if name not in DEFAULTS:
        raise T2AError(f"config '{text}': start with 'teacher' or 'student' (e.g. student:K=8)")
    values = dict(DEFAULTS[name])
    for part in filter(None, rest.split(",")):
        key, eq, value = part.partition("=")
        if not eq or key not in KEYS:
            raise T2AError(f"config '{text}': bad setting '{part}' (use {', '.join(k + '=' for k in KEYS)})")
        if key == "S" and name == "student":
            raise T2AError(f"config '{text}': S (diffusion steps) applies to the teacher only")
        if key == "corr" and name == "teacher":
            raise T2AError(f"config '{text}': corr (noise correlation) applies to the student only")
        values[key] = value
    config = RunConfig(name)
    try:
        for key, value in values.items():
            cast = {"K": int, "S": int, "cfg": float, "temp": float, "corr": float, "anchors": int, "spread": float,
                    "smooth": float, "backend": str, "prompts": str, "model": str}[key]
            setattr(config, KEYS[key], cast(value))
    except ValueError:
        raise T2AError(f"config '{text}': a number is malformed") from None
    if config.steps is not None and config.steps < 1 or config.teacher_steps is not None and config.teacher_steps < 1:
        raise T2AError(f"config '{text}': K and S must be at least 1")
    if config.noise_correlation is not None and not config.noise_correlation >= 0:
        raise T2AError(f"config '{text}': corr must be >= 0 tokens")
    if config.anchors is not None and config.anchors < 0:
        raise T2AError(f"config '{text}': anchors must be >= 0")
    if config.spread is not None and not config.spread > 0:
        raise T2AError(f"config '{text}': spread must be > 0")
    if config.smooth is not None and not config.smooth >= 0:
        raise T2AError(f"config '{text}': smooth must be >= 0 ms")
    if config.prompts not in PROMPT_SETS:
        raise T2AError(f"config '{text}': prompts must be one of {', '.join(PROMPT_SETS)}")
    config.label = text if rest else f"{name}:" + ",".join(f"{k}={v}" for k, v in DEFAULTS[name].items())
    return config


def clip_seed(clip_id: str, base: int = 0) -> int:
    """A seed fixed by the clip id, so subsets and reruns give the same audio per caption."""
    return (zlib.crc32(clip_id.encode("utf-8")) + base) % (2**31)


def load_model(path: str, backend: str):
    """TextToAudio.load, with a clear message when this build has no generation API yet."""
    try:
        from t2a_edge.runtimes.api import TextToAudio
    except ImportError:
        raise T2AError("this build has no generation API (t2a_edge.runtimes.api): "
                       "score existing files with --generated DIR") from None
    return TextToAudio.load(path, backend=backend)


def model_kind(model) -> str | None:
    """'teacher' or 'student' as the loaded model reports it (None if it does not say)."""
    return getattr(getattr(model, "backend", None), "kind", None)


def check_kind(model, config: RunConfig, path: str) -> None:
    """A teacher row must run a teacher model: a student silently ignores S."""
    kind = model_kind(model)
    if kind is not None and kind != config.name:
        flag = "--teacher" if config.name == "teacher" else "--model"
        raise T2AError(f"config '{config.label}' needs a {config.name} model, but {path} is a {kind}: "
                       f"pass {flag} PATH")


def prompts_for(items: list[Item], prompt_set: str = "captions") -> list[str]:
    """The prompt per item: its test caption, or its category's paraphrases in turn (by id order)."""
    if prompt_set == "captions":
        return [item.caption for item in items]
    from t2a_edge.apps.evaluation.paraphrases import paraphrase

    seen: dict[str, int] = {}
    prompts = []
    for item in items:
        index = seen[item.category] = seen.get(item.category, -1) + 1
        prompts.append(paraphrase(item.category, index) or item.caption)
    return prompts


def generation_kwargs(config: RunConfig, seconds: float | None) -> dict:
    """The generate() settings a config fixes; the rest come from the model's defaults."""
    return {k: v for k, v in (("seconds", seconds), ("steps", config.steps), ("teacher_steps", config.teacher_steps),
                              ("cfg", config.cfg), ("temperature", config.temperature),
                              ("noise_correlation", config.noise_correlation), ("anchors", config.anchors),
                              ("spread", config.spread), ("smooth", config.smooth))
            if v is not None}


def time_batched(model, items: list[Item], config: RunConfig, seconds: float | None, batch: int,
                 min_calls: int = 3, min_seconds: float = 2.0, max_calls: int = 25) -> float:
    """Seconds per clip when `batch` prompts are generated as one call (after one untimed call).

    Timed over at least `min_calls` calls and `min_seconds` (or `max_calls`): a one-step student's batch of 8 takes
    about 0.4 s, and two calls of it (this function's first form) gave a batched figure above the
    one-clip one in a run beside training, where a longer timing has it 0.84 times as long.
    """
    prompts = prompts_for(items, config.prompts)
    prompts = (prompts * batch)[:batch]
    kwargs = generation_kwargs(config, seconds)
    model.generate(prompts, seed=0, **kwargs)
    calls, start = 0, time.perf_counter()
    while calls < min_calls or (time.perf_counter() - start < min_seconds and calls < max_calls):
        calls += 1
        model.generate(prompts, seed=calls, **kwargs)
    return (time.perf_counter() - start) / (calls * batch)


def generate_set(model, items: list[Item], folder: Path, config: RunConfig, seconds: float | None,
                 seed: int = 0, progress: bool = True) -> tuple[list[Path], dict]:
    """Write `<id>.wav` for every item into `folder`; return the files and the timing summary."""
    from t2a_edge.core.audio import save_audio

    folder.mkdir(parents=True, exist_ok=True)
    kwargs = generation_kwargs(config, seconds)
    prompts = prompts_for(items, config.prompts)
    # One untimed call first: the first generation pays for lazy loading and allocator warm-up.
    model.generate(prompts[0], seed=0, **kwargs)
    files, elapsed, audio_seconds = [], 0.0, 0.0
    iterator = list(zip(items, prompts))
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc=config.label or config.name, unit="clip", leave=False)
    for item, prompt in iterator:
        start = time.perf_counter()
        audio = model.generate(prompt, seed=clip_seed(item.id, seed), **kwargs)
        elapsed += time.perf_counter() - start
        audio_seconds += len(audio.samples) / audio.sample_rate
        path = folder / f"{item.id}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        files.append(save_audio(path, audio.samples, audio.sample_rate, overwrite=True))
    timing = {"latency_s": elapsed / len(items), "rtf": elapsed / audio_seconds if audio_seconds else None}
    return files, timing
