"""The Python API: TextToAudio.load(...).generate(...) -> Audio, the same for every backend."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from t2a_edge.core.audio import SAMPLE_RATE, save_audio
from t2a_edge.core.errors import T2AError
from t2a_edge.core.model_files import resolve_model_dir  # noqa: F401  (re-exported: apps import it here)
from t2a_edge.core.settings import FALLBACK_DEFAULTS

MIN_SECONDS = 0.5


@dataclass
class Audio:
    """A generated clip: samples (float32, mono), its rate, and how it was made."""

    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE
    prompt: str = ""
    info: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate

    def save(self, path, overwrite: bool = False) -> Path:
        """Write WAV/FLAC/OGG by suffix, atomically; refuses to replace a file unless overwrite."""
        return save_audio(path, self.samples, self.sample_rate, overwrite=overwrite)


def check_settings(seconds=None, steps=None, cfg=None, temperature=None, noise_correlation=None,
                   anchors=None, spread=None, seed=None, smooth=None) -> None:
    """The checks that need no model (None: not given), so a CLI can refuse before loading one."""
    if seconds is not None and (not (isinstance(seconds, (int, float)) and math.isfinite(seconds)) or seconds <= 0):
        raise T2AError(f"seconds must be a positive number, got {seconds}")
    if steps is not None and (int(steps) != steps or steps < 1):
        raise T2AError(f"steps must be a whole number >= 1, got {steps}")
    if cfg is not None and (not math.isfinite(cfg) or cfg < 0):
        raise T2AError(f"cfg must be >= 0, got {cfg}")
    if temperature is not None and (not math.isfinite(temperature) or temperature <= 0):
        raise T2AError(f"temperature must be > 0, got {temperature}")
    if noise_correlation is not None and (not math.isfinite(noise_correlation) or noise_correlation < 0):
        raise T2AError(f"noise correlation must be >= 0 tokens, got {noise_correlation}")
    if anchors is not None and (int(anchors) != anchors or anchors < 0):
        raise T2AError(f"anchors must be a whole number >= 0, got {anchors}")
    if spread is not None and (not math.isfinite(spread) or spread <= 0):
        raise T2AError(f"spread must be > 0 (1 keeps the drawn latents as they are), got {spread}")
    if smooth is not None and (not math.isfinite(smooth) or smooth < 0):
        raise T2AError(f"smooth must be >= 0 ms (0 keeps the loudness as drawn), got {smooth}")
    if seed is not None and (int(seed) != seed or seed < 0):  # numpy's streams take no negative seed
        raise T2AError(f"seed must be a whole number >= 0, got {seed}")


def check_request(prompts: list[str], kind: str, max_seconds: float, seconds=None, steps=None, cfg=None,
                  temperature=None, noise_correlation=None, anchors=None, spread=None, seed=None, smooth=None,
                  teacher_steps=None) -> None:
    """The whole request against a model of `kind` that makes up to `max_seconds` (None: not given)."""
    if kind == "codec":
        raise T2AError("this model is a codec, not a text-to-audio model: train a teacher and a student on it")
    if not prompts:
        raise T2AError("no prompt given")
    for prompt in prompts:
        if not isinstance(prompt, str) or not prompt.strip():
            raise T2AError("a prompt is empty: describe the sound, e.g. \"dog barking\"")
    check_settings(seconds, steps, cfg, temperature, noise_correlation, anchors, spread, seed, smooth)
    if noise_correlation and kind == "teacher":
        raise T2AError("noise correlation applies to a student's energy head, not a teacher")
    if seconds is not None and (seconds < MIN_SECONDS or seconds > max_seconds + 1e-9):
        raise T2AError(f"seconds must be between {MIN_SECONDS} and {max_seconds:g} for this model, "
                       f"got {seconds:g}")
    if kind == "teacher" and teacher_steps is not None and teacher_steps < 1:
        raise T2AError(f"teacher steps must be >= 1, got {teacher_steps}")


def check_before_load(model, prompts: list[str], **given) -> None:
    """Refuse a bad request for `model` (a model folder, 'default' or a bundle) in one line before it is
    loaded, and so before any conversion: the model's kind and length limit come from its JSON."""
    from t2a_edge.runtimes.select import model_limits

    kind, max_seconds = model_limits(model)
    check_request(prompts, kind, max_seconds, **given)


class TextToAudio:
    """A loaded model on one backend, with measured generation defaults."""

    def __init__(self, backend, defaults: dict, source: str, why: str = ""):
        from t2a_edge.core.tokenizer import Tokenizer

        self.backend = backend
        self.defaults = defaults
        self.source = source
        self.why = why  # how the backend was chosen, for the user
        self.tokenizer = Tokenizer(backend.config.backbone.text_tokens)

    @classmethod
    def load(cls, model: str | Path = "default", backend: str = "auto", precision: str | None = None,
             device: str | None = None) -> "TextToAudio":
        """Load a model folder (or 'default') or a bundle folder on a backend: 'auto', 'torch', 'cuda', 'onnx',
        'openvino', 'coreml' or 'executorch'; precision fp32 (default), fp16 or int8 (a bundle: its own)."""
        from t2a_edge.runtimes.select import load_backend

        runtime, meta, why = load_backend(model, backend, precision, device)
        defaults = dict(FALLBACK_DEFAULTS.get(runtime.kind, FALLBACK_DEFAULTS["student"]))
        defaults.update(meta.get("defaults", {}))
        defaults["seconds"] = min(defaults["seconds"], runtime.config.max_seconds)
        return cls(runtime, defaults, str(model), why)

    @property
    def max_seconds(self) -> float:
        return self.backend.config.max_seconds

    def check(self, prompts: list[str], seconds: float, steps: int, cfg: float, temperature: float,
              noise_correlation: float = 0.0, anchors: int = 0, spread: float = 1.0, seed: int = 0,
              smooth: float = 0.0) -> None:
        """Reject bad requests with one clear line before any work is done."""
        check_request(prompts, self.backend.kind, self.max_seconds, seconds, steps, cfg, temperature,
                      noise_correlation, anchors, spread, seed, smooth)

    def generate(self, prompt: str | list[str], seconds: float | None = None, seed: int = 0,
                 steps: int | None = None, cfg: float | None = None, temperature: float | None = None,
                 teacher_steps: int | None = None, progress=None, noise_correlation: float | None = None,
                 anchors: int | None = None, spread: float | None = None, smooth: float | None = None,
                 batch_size: int | None = None):
        """Generate one clip per prompt; a list in gives a list of Audio out.

        The prompts run as one batch, or `batch_size` at a time (less memory for a long list, the same
        clips: see generate_batches). `noise_correlation` (students; tokens, default 0) correlates the
        head's noise along time: smoother, more coherent clips that the judge recognises less often
        (README, "The default model"). `anchors` A (K >= 2) makes the first step reveal A tokens that
        the later steps build on. `spread` f scales every generated latent's distance from the corpus
        mean before decoding (1 keeps them as drawn; runtimes.sampler.run_pipeline says why a default
        may set less). `smooth` ms > 0 smooths the clip's loudness along time over that long a window
        (0: as drawn).
        """
        if not isinstance(prompt, (str, list, tuple)):
            raise T2AError(f"prompt must be a string or a list of strings, got {type(prompt).__name__}")
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        size = max(len(prompts), 1) if batch_size is None else batch_size  # an empty list: refused there
        batches = self.generate_batches(prompts, size, seconds=seconds, seed=seed, steps=steps, cfg=cfg,
                                        temperature=temperature, teacher_steps=teacher_steps, progress=progress,
                                        noise_correlation=noise_correlation, anchors=anchors, spread=spread,
                                        smooth=smooth)
        clips = [clip for batch in batches for clip in batch]
        return clips[0] if isinstance(prompt, str) else clips

    def generate_batches(self, prompts: list[str], batch_size: int, seconds: float | None = None, seed: int = 0,
                         steps: int | None = None, cfg: float | None = None, temperature: float | None = None,
                         teacher_steps: int | None = None, progress=None, noise_correlation: float | None = None,
                         anchors: int | None = None, spread: float | None = None, smooth: float | None = None):
        """Yield the clips of `prompts` as lists of up to `batch_size`, each as soon as it is made.

        Prompt i draws from the random stream [seed, i] whatever the batch it runs in, so the clips
        are those of one batch (to float rounding) while memory holds one batch at a time. The whole
        request is checked before the first batch runs.
        """
        from t2a_edge.runtimes.sampler import run_pipeline

        if self.backend.kind == "codec":
            raise T2AError(f"{self.source} is a codec, not a text-to-audio model: train a teacher and a student on it")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise T2AError(f"batch size must be a whole number >= 1, got {batch_size}")
        prompts = list(prompts)
        d = self.defaults
        seconds = d["seconds"] if seconds is None else seconds
        steps = d["steps"] if steps is None else steps
        cfg = d["cfg"] if cfg is None else cfg
        temperature = d["temperature"] if temperature is None else temperature
        noise_correlation = d["noise_correlation"] if noise_correlation is None else noise_correlation
        anchors = d["anchors"] if anchors is None else anchors
        spread = d["spread"] if spread is None else spread
        smooth = d["smooth"] if smooth is None else smooth
        if self.backend.kind == "teacher":
            teacher_steps = teacher_steps or d.get("teacher_steps", 50)
            if teacher_steps < 1:
                raise T2AError(f"teacher steps must be >= 1, got {teacher_steps}")
        else:
            teacher_steps = None
        self.check(prompts, seconds, steps, cfg, temperature, noise_correlation, anchors, spread, seed, smooth)
        settings = {"seconds": float(seconds), "steps": int(steps), "cfg": float(cfg),
                    "temperature": float(temperature), "noise_correlation": float(noise_correlation),
                    "anchors": int(anchors), "spread": float(spread), "smooth": float(smooth), "seed": int(seed),
                    "backend": self.backend.name, "precision": self.backend.precision, "teacher_steps": teacher_steps}
        for first in range(0, len(prompts), batch_size):
            part = prompts[first:first + batch_size]
            start = time.perf_counter()
            waves, timings = run_pipeline(self.backend, self.tokenizer, [p.strip() for p in part], float(seconds),
                                          int(steps), float(cfg), float(temperature), int(seed), teacher_steps,
                                          progress, float(noise_correlation), int(anchors), float(spread),
                                          smooth=float(smooth), first_example=first)
            timings["total"] = time.perf_counter() - start
            yield [Audio(w, self.backend.config.codec.sample_rate, p, {**settings, "timings": timings})
                   for w, p in zip(waves, part)]

    def codec_roundtrip(self, samples: np.ndarray) -> np.ndarray:
        """Encode and decode real audio with the model's codec (torch backend only)."""
        if not hasattr(self.backend, "codec_roundtrip"):
            raise T2AError(f"codec round trips need the torch backend, not {self.backend.name}")
        return self.backend.codec_roundtrip(samples)
