"""OpenVINO backend: runs an IR bundle on the CPU plugin (no torch import).

fp32 bundles run with INFERENCE_PRECISION_HINT=f32: on CPUs with bf16 support OpenVINO otherwise
computes in bf16, which is faster but not the fp32 reference. int8 components run in f32 too
unless conversion measured bf16 faster and within the int8 error limit on this machine (the
manifest entry then says "compute": "bf16"). fp16 bundles compute in f16 only on CPUs with native
fp16.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from t2a_edge.core.errors import T2AError
from t2a_edge.runtimes.bundle_backend import BundleBackend


def compile_config(precision: str, threads: int, capabilities=(), compute: str | None = None) -> dict:
    """fp16 bundles compute in f16 only where the CPU has it natively; otherwise (bf16 would be
    the fallback, about 1e-2 off) they keep fp16 weights and compute in f32. An int8 component
    may name its compute type (bf16), chosen by measurement at conversion."""
    hint = "f16" if precision == "fp16" and "FP16" in capabilities else "f32"
    if precision == "int8" and compute == "bf16":
        hint = "bf16"
    return {"INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}


class ShapeCompiled:
    """One component, compiled for each input shape it meets (a few kept, least recently used out).

    The IR has dynamic batch and length; compiled for one static shape, OpenVINO's CPU plugin runs
    it faster (10 s at batch 1, int8 bundle: decoder 32.3 -> 26.2 ms, step 14.5 -> 12.1 ms, median
    of 15 calls each, same process). A new length costs one compile (0.1-0.4 s); the sampling loop
    calls each component with one shape per clip.
    """

    KEEP = 4

    def __init__(self, core, path: Path, config: dict):
        self.core, self.path, self.config = core, path, config
        self.model = core.read_model(str(path))  # parses (and so checks) the IR now
        self.compiled: OrderedDict = OrderedDict()  # input shapes -> (request, output), most recent last

    def _compile(self, shapes: tuple):
        model = self.model.clone()
        model.reshape({name: list(shape) for name, shape in shapes})
        compiled = self.core.compile_model(model, "CPU", self.config)
        return compiled.create_infer_request(), compiled.output(0)

    def infer(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        shapes = tuple((name, value.shape) for name, value in inputs.items())
        if shapes in self.compiled:
            self.compiled.move_to_end(shapes)
        else:
            try:
                self.compiled[shapes] = self._compile(shapes)
            except Exception as exc:  # OpenVINO raises RuntimeError with long multi-line messages
                raise T2AError(f"OpenVINO cannot compile {self.path}: {str(exc).strip().splitlines()[0]}") from None
            if len(self.compiled) > self.KEEP:
                self.compiled.popitem(last=False)
        request, output = self.compiled[shapes]
        return np.array(request.infer(inputs)[output], copy=True)


class OpenVinoBackend(BundleBackend):
    """Each component is an IR compiled per input shape (ShapeCompiled)."""

    name = "openvino"

    def _open(self, component: str, path: Path):
        try:
            import openvino as ov
        except ImportError:
            raise T2AError("the openvino backend needs OpenVINO: pip install openvino") from None
        core = getattr(self, "_core", None) or ov.Core()
        self._core = core
        capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES") if self.precision == "fp16" else ()
        compute = self.manifest["components"].get(component, {}).get("compute")
        try:
            return ShapeCompiled(core, path, compile_config(self.precision, self.threads, capabilities, compute))
        except Exception as exc:  # OpenVINO raises RuntimeError with long multi-line messages
            raise T2AError(f"OpenVINO cannot load {path}: {str(exc).strip().splitlines()[0]}") from None

    def _run(self, component: str, session, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return session.infer(inputs)
