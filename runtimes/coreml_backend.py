"""CoreML backend: runs .mlpackage components with coremltools' predict, on macOS only."""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np

from t2a_edge.core.errors import T2AError
from t2a_edge.runtimes.bundle_backend import BundleBackend


def coreml_unavailable_reason() -> str | None:
    """Why CoreML cannot run here, or None when it can."""
    if platform.system() != "Darwin":
        return f"CoreML runs only on macOS (this is {platform.system()})"
    try:
        import coremltools  # noqa: F401
    except ImportError:
        return "coremltools is not installed (pip install coremltools)"
    return None


class CoreMLBackend(BundleBackend):
    """Each component is a coremltools MLModel (compute units: all)."""

    name = "coreml"

    def __init__(self, folder, threads=None):
        reason = coreml_unavailable_reason()
        if reason:
            raise T2AError(f"{reason}: converting with `t2a-edge convert --backend coreml` works here, "
                           "running needs a Mac; choose --backend onnx, openvino, executorch or torch")
        super().__init__(folder, threads)

    def _open(self, component: str, path: Path):
        import coremltools as ct

        try:
            model = ct.models.MLModel(str(path), compute_units=ct.ComputeUnit.ALL)
        except Exception as exc:
            raise T2AError(f"CoreML cannot load {path}: {str(exc).strip().splitlines()[0]}") from None
        spec = self.manifest["components"][component]
        return model, spec["outputs"][0], set(spec.get("int32_inputs", []))

    def _run(self, component: str, session, inputs: dict[str, np.ndarray]) -> np.ndarray:
        model, output, int32 = session
        feed = {k: (v.astype(np.int32) if k in int32 else v) for k, v in inputs.items()}
        return np.asarray(model.predict(feed)[output], dtype=np.float32)
