"""The Python API: TextToAudio.load(...).generate(...) -> Audio, the same for every backend."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from t2a_edge.core.audio import SAMPLE_RATE, save_audio
from t2a_edge.core.errors import T2AError
from t2a_edge.core.model_files import resolve_model_dir  # noqa: F401  (re-exported: apps import it here)
from t2a_edge.core.settings import FALLBACK_DEFAULTS, MIN_SECONDS, Settings  # noqa: F401  (re-exported)


class PromptCutWarning(UserWarning):
    """A prompt longer than the model reads: the warning says which part it reads."""


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


def check_request(prompts: list[str], settings: Settings, kind: str, max_seconds: float) -> None:
    """The whole request (prompts and settings) against a model of `kind` that makes up to `max_seconds`."""
    if kind == "codec":
        raise T2AError("this model is a codec, not a text-to-audio model: train a teacher and a student on it")
    if not prompts:
        raise T2AError("no prompt given")
    for prompt in prompts:
        if not isinstance(prompt, str) or not prompt.strip():
            raise T2AError("a prompt is empty: describe the sound, e.g. \"dog barking\"")
    settings.check_for(kind, max_seconds)


def check_before_load(model, prompts: list[str], settings: Settings) -> None:
    """Refuse a bad request for `model` (a model folder, 'default' or a bundle) in one line before it is
    loaded, and so before any conversion: the model's kind and length limit come from its JSON."""
    from t2a_edge.runtimes.select import model_limits

    kind, max_seconds = model_limits(model)
    check_request(prompts, settings, kind, max_seconds)


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

    def prompt_cut(self, prompt: str, label: str = "the prompt") -> str | None:
        """None if the model reads all of `prompt`; else one line saying how much of it it reads."""
        found = self.tokenizer.cut(prompt.strip())
        if found is None:
            return None
        total, kept, text = found
        shown = text if len(text) <= 160 else text[:157] + "..."
        return (f"{label} is {total} word pieces long; the model reads the first {kept} word pieces and "
                f"ignores the rest: \"{shown}\"")

    def prompt_cuts(self, prompts: list[str]) -> list[str]:
        """prompt_cut's line for every prompt the model does not read whole, naming it by its number."""
        labels = ["the prompt"] if len(prompts) == 1 else [f"prompt {i + 1}" for i in range(len(prompts))]
        return [line for line in (self.prompt_cut(p, label) for p, label in zip(prompts, labels)) if line]

    @property
    def max_seconds(self) -> float:
        return self.backend.config.max_seconds

    def check(self, prompts: list[str], settings: Settings) -> None:
        """Reject bad requests with one clear line before any work is done."""
        check_request(prompts, settings, self.backend.kind, self.max_seconds)

    def generate(self, prompt: str | list[str], seconds: float | None = None, seed: int | None = None,
                 steps: int | None = None, cfg: float | None = None, temperature: float | None = None,
                 teacher_steps: int | None = None, progress=None, noise_correlation: float | None = None,
                 anchors: int | None = None, spread: float | None = None, smooth: float | None = None,
                 batch_size: int | None = None, settings: Settings | None = None):
        """Generate one clip per prompt; a list in gives a list of Audio out.

        The prompts run as one batch, or `batch_size` at a time (less memory for a long list, the same
        clips: see generate_batches). `noise_correlation` (students; tokens, default 0) correlates the
        head's noise along time: smoother, more coherent clips that the judge recognises less often
        (README, "The default model"). `anchors` A (K >= 2) makes the first step reveal A tokens that
        the later steps build on. `spread` f scales every generated latent's distance from the corpus
        mean before decoding (1 keeps them as drawn; runtimes.sampler.run_pipeline says why a default
        may set less). `smooth` ms > 0 smooths the clip's loudness along time over that long a window
        (0: as drawn). A setting left None takes the model's default (the seed: 0). `settings`
        (core.settings.Settings) gives them all at once; keywords given as well override its fields.
        """
        if not isinstance(prompt, (str, list, tuple)):
            raise T2AError(f"prompt must be a string or a list of strings, got {type(prompt).__name__}")
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        size = max(len(prompts), 1) if batch_size is None else batch_size  # an empty list: refused there
        keywords = {"seconds": seconds, "seed": seed, "steps": steps, "cfg": cfg, "temperature": temperature,
                    "teacher_steps": teacher_steps, "noise_correlation": noise_correlation, "anchors": anchors,
                    "spread": spread, "smooth": smooth}
        given = {k: v for k, v in keywords.items() if v is not None}
        settings = Settings(**given) if settings is None else settings.replace(**given)
        batches = self.generate_batches(prompts, size, settings, progress=progress)
        clips = [clip for batch in batches for clip in batch]
        return clips[0] if isinstance(prompt, str) else clips

    def generate_batches(self, prompts: list[str], batch_size: int, settings: Settings | None = None,
                         progress=None, **values):
        """Yield the clips of `prompts` as lists of up to `batch_size`, each as soon as it is made.

        `settings` (core.settings.Settings), or its fields as keywords; None: the model's defaults.
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
        settings = Settings(**values) if settings is None else settings.replace(**values)
        resolved = settings.resolve(self.defaults, self.backend.kind)
        self.check(prompts, resolved)
        for line in self.prompt_cuts(prompts):
            warnings.warn(line, PromptCutWarning, stacklevel=3)
        used = resolved.typed()
        info = {**used.report(), "backend": self.backend.name, "precision": self.backend.precision}
        for first in range(0, len(prompts), batch_size):
            part = prompts[first:first + batch_size]
            start = time.perf_counter()
            waves, timings = run_pipeline(self.backend, self.tokenizer, [p.strip() for p in part], used, progress,
                                          first_example=first)
            timings["total"] = time.perf_counter() - start
            yield [Audio(w, self.backend.config.codec.sample_rate, p, {**info, "timings": timings})
                   for w, p in zip(waves, part)]

    def codec_roundtrip(self, samples: np.ndarray) -> np.ndarray:
        """Encode and decode real audio with the model's codec (torch backend only)."""
        if not hasattr(self.backend, "codec_roundtrip"):
            raise T2AError(f"codec round trips need the torch backend, not {self.backend.name}")
        return self.backend.codec_roundtrip(samples)
