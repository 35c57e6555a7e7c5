"""What the bundle backends share: manifest checks, batch splitting, numpy in and out (no torch)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from t2a_edge.core.bundle import COMPONENT_NAMES, component_path, load_manifest
from t2a_edge.core.errors import T2AError
from t2a_edge.core.masking import guidance_weights


def default_threads() -> int:
    """Threads per runtime call: $T2A_EDGE_THREADS, else the CPUs this process may use."""
    value = os.environ.get("T2A_EDGE_THREADS")
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise T2AError(f"T2A_EDGE_THREADS must be a whole number, got '{value}'") from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS
        return max(1, os.cpu_count() or 1)


class BundleBackend:
    """Base of the ONNX Runtime, OpenVINO, CoreML and ExecuTorch backends.

    A subclass opens one component with `_open(name, path)` and runs it with
    `_run(name, session, inputs) -> np.ndarray`; this class verifies the bundle, builds the
    inputs in the components' dtypes and splits batches larger than the bundle's maximum.
    """

    name = "bundle"
    kind = "student"

    def __init__(self, folder: str | Path, threads: int | None = None):
        self.folder = Path(folder)
        self.manifest, self.config = load_manifest(self.folder)
        if self.manifest["backend"] != self.name:
            raise T2AError(f"bundle {self.folder} is for {self.manifest['backend']}, not {self.name}")
        self.precision = self.manifest["precision"]
        self.max_batch = int(self.manifest.get("max_batch", 1))
        self.threads = threads or default_threads()
        self.sessions = {c: self._open(c, component_path(self.folder, self.manifest, c)) for c in COMPONENT_NAMES}

    @classmethod
    def component_runner(cls, path: str | Path, component: str, spec: dict, precision: str,
                         threads: int | None = None):
        """Open one component file outside a bundle (conversion checks); returns run(inputs)."""
        self = cls.__new__(cls)
        self.precision, self.threads = precision, threads or default_threads()
        self.max_batch = int(spec.get("max_batch", 1))
        self.manifest = {"components": {component: spec}}
        self.sessions = {component: self._open(component, Path(path))}
        return lambda inputs: self._call(component, inputs)

    # -- subclass hooks -------------------------------------------------------------------------
    def _open(self, component: str, path: Path):
        raise NotImplementedError

    def _run(self, component: str, session, inputs: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    # -- the Backend protocol -------------------------------------------------------------------
    def _call(self, component: str, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Run a component, in slices of at most max_batch along the batch axis.

        Every input of two or more dimensions is batched; guidance and temperature are shared.
        """
        if component == "step":
            inputs = self._fit_guidance(inputs)
        batched = [k for k, v in inputs.items() if v.ndim >= 2]
        batch = inputs[batched[0]].shape[0]
        if batch <= self.max_batch:
            return self._run(component, self.sessions[component], inputs)
        parts = []
        for start in range(0, batch, self.max_batch):
            part = {k: (v[start:start + self.max_batch] if k in batched else v) for k, v in inputs.items()}
            parts.append(self._run(component, self.sessions[component], part))
        return np.concatenate(parts)

    def _fit_guidance(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A one-row guidance [w] becomes [w, 0] for a step with fixed two rows (the same output):
        ExecuTorch bundles of converter 14 and older."""
        rows = self.manifest["components"]["step"].get("guidance_rows", [1, 2])
        guidance = inputs["guidance"]
        if len(guidance) in rows:
            return inputs
        return {**inputs, "guidance": np.array([guidance[0], 0.0], np.float32)}

    def _check_tokens(self, n: int) -> None:
        if n > self.config.max_tokens:
            raise T2AError(f"{n} tokens asked for, this bundle takes at most {self.config.max_tokens} "
                           f"({self.config.max_seconds:g} s)")

    def encode_text(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        inputs = {"ids": np.ascontiguousarray(ids, np.int64), "mask": np.ascontiguousarray(mask, np.int64)}
        return self._call("text_encoder", inputs)

    def step(self, text, text_mask, tokens, known, noise, cfg, temperature) -> np.ndarray:
        self._check_tokens(tokens.shape[1])
        inputs = {
            "text": np.ascontiguousarray(text, np.float32),
            "text_mask": np.ascontiguousarray(text_mask, np.float32),
            "tokens": np.ascontiguousarray(tokens, np.float32),
            "known": np.ascontiguousarray(known, np.float32),
            "noise": np.ascontiguousarray(noise, np.float32),
            "guidance": guidance_weights(float(cfg)),
            "temperature": np.array([temperature], np.float32),
        }
        return self._call("step", inputs)

    def decode(self, tokens: np.ndarray) -> np.ndarray:
        self._check_tokens(tokens.shape[1])
        return self._call("decoder", {"tokens": np.ascontiguousarray(tokens, np.float32)})

    def run_component(self, component: str, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """One component on named numpy inputs (parity checks and the benchmark)."""
        return self._call(component, inputs)
