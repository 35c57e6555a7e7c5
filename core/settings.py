"""The sampling settings of a generation and the defaults used when a model records none of its own."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from t2a_edge.core.errors import T2AError

# Used when a model records no measured defaults of its own.
FALLBACK_DEFAULTS = {
    "student": {"steps": 8, "cfg": 3.0, "temperature": 0.7, "seconds": 5.0, "noise_correlation": 0.0, "anchors": 0,
                "spread": 1.0, "smooth": 0.0},
    "teacher": {"steps": 32, "cfg": 3.0, "temperature": 1.0, "seconds": 5.0, "teacher_steps": 50,
                "noise_correlation": 0.0, "anchors": 0, "spread": 1.0, "smooth": 0.0},
}

MIN_SECONDS = 0.5
# The settings that only shape a clip (see Settings), at the values that leave it as drawn.
AS_DRAWN = {"noise_correlation": 0.0, "anchors": 0, "spread": 1.0, "smooth": 0.0}


@dataclass(frozen=True)
class Settings:
    """How clips are sampled, passed whole from the user to the sampling loop. None: the model's default.

    `noise_correlation` (students; tokens) correlates the head's noise along time; `anchors` A makes
    the first of K >= 2 steps reveal A tokens; `spread` scales each generated latent's distance from
    the corpus mean (1: as drawn); `smooth` ms > 0 smooths the loudness along time (0: as drawn);
    `teacher_steps` is a teacher's diffusion steps per iteration. Prompt i of a request draws from
    the random stream [seed, i].
    """

    seconds: float | None = None
    steps: int | None = None
    cfg: float | None = None
    temperature: float | None = None
    noise_correlation: float | None = None
    anchors: int | None = None
    spread: float | None = None
    smooth: float | None = None
    seed: int = 0
    teacher_steps: int | None = None

    @classmethod
    def as_drawn(cls, **values) -> "Settings":
        """`values` with no noise correlation, anchors, spread or smoothing: what parity checks and
        int8 calibration run."""
        return cls(**{**AS_DRAWN, **values})

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def given(self) -> dict:
        """The settings set (not None), by name."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def replace(self, **changes) -> "Settings":
        return replace(self, **changes)

    def check(self) -> "Settings":
        """The checks that need no model (None: not given), so a CLI can refuse before loading one."""
        seconds, steps, cfg, temperature = self.seconds, self.steps, self.cfg, self.temperature
        if seconds is not None and (not (isinstance(seconds, (int, float)) and math.isfinite(seconds))
                                    or seconds <= 0):
            raise T2AError(f"seconds must be a positive number, got {seconds}")
        if steps is not None and (int(steps) != steps or steps < 1):
            raise T2AError(f"steps must be a whole number >= 1, got {steps}")
        if cfg is not None and (not math.isfinite(cfg) or cfg < 0):
            raise T2AError(f"cfg must be >= 0, got {cfg}")
        if temperature is not None and (not math.isfinite(temperature) or temperature <= 0):
            raise T2AError(f"temperature must be > 0, got {temperature}")
        if self.noise_correlation is not None and (not math.isfinite(self.noise_correlation)
                                                   or self.noise_correlation < 0):
            raise T2AError(f"noise correlation must be >= 0 tokens, got {self.noise_correlation}")
        if self.anchors is not None and (int(self.anchors) != self.anchors or self.anchors < 0):
            raise T2AError(f"anchors must be a whole number >= 0, got {self.anchors}")
        if self.spread is not None and (not math.isfinite(self.spread) or self.spread <= 0):
            raise T2AError(f"spread must be > 0 (1 keeps the drawn latents as they are), got {self.spread}")
        if self.smooth is not None and (not math.isfinite(self.smooth) or self.smooth < 0):
            raise T2AError(f"smooth must be >= 0 ms (0 keeps the loudness as drawn), got {self.smooth}")
        seed = self.seed
        if seed is not None and (int(seed) != seed or seed < 0):  # numpy's streams take no negative seed
            raise T2AError(f"seed must be a whole number >= 0, got {seed}")
        return self

    def check_for(self, kind: str, max_seconds: float) -> "Settings":
        """check() and the limits of a model of `kind` that makes up to `max_seconds`."""
        self.check()
        if self.noise_correlation and kind == "teacher":
            raise T2AError("noise correlation applies to a student's energy head, not a teacher")
        if self.seconds is not None and (self.seconds < MIN_SECONDS or self.seconds > max_seconds + 1e-9):
            raise T2AError(f"seconds must be between {MIN_SECONDS} and {max_seconds:g} for this model, "
                           f"got {self.seconds:g}")
        if kind == "teacher" and self.teacher_steps and self.teacher_steps < 1:
            raise T2AError(f"teacher steps must be >= 1, got {self.teacher_steps}")
        return self

    def resolve(self, defaults: dict, kind: str) -> "Settings":
        """Every setting filled in from the model's `defaults` and typed; teacher_steps only for a teacher."""
        d = defaults
        pick = {name: d[name] if getattr(self, name) is None else getattr(self, name)
                for name in ("seconds", "steps", "cfg", "temperature", "noise_correlation", "anchors", "spread",
                             "smooth")}
        teacher_steps = None
        if kind == "teacher":
            teacher_steps = self.teacher_steps or d.get("teacher_steps", 50)
            if teacher_steps < 1:
                raise T2AError(f"teacher steps must be >= 1, got {teacher_steps}")
        return Settings(seconds=pick["seconds"], steps=pick["steps"], cfg=pick["cfg"],
                        temperature=pick["temperature"], noise_correlation=pick["noise_correlation"],
                        anchors=pick["anchors"], spread=pick["spread"], smooth=pick["smooth"],
                        seed=0 if self.seed is None else self.seed,
                        teacher_steps=teacher_steps)

    def typed(self) -> "Settings":
        """The same settings as the sampling loop reads them (floats and ints; resolve() first)."""
        return Settings(seconds=float(self.seconds), steps=int(self.steps), cfg=float(self.cfg),
                        temperature=float(self.temperature), noise_correlation=float(self.noise_correlation),
                        anchors=int(self.anchors), spread=float(self.spread), smooth=float(self.smooth),
                        seed=int(self.seed), teacher_steps=self.teacher_steps)

    def report(self) -> dict:
        """By name, as a clip's info and the JSON report give them."""
        return asdict(self)
