"""Backend selection: turn (model, backend name, precision) into a loaded backend and a reason."""

from __future__ import annotations

from t2a_edge.core.errors import T2AError

BACKENDS = ("auto", "torch", "cuda")


def load_backend(model, backend: str = "auto", precision: str = "fp32", device: str | None = None):
    """Returns (backend, model metadata, why it was chosen)."""
    from t2a_edge.runtimes.api import resolve_model_dir

    if backend not in BACKENDS:
        raise T2AError(f"unknown backend '{backend}': choose one of {', '.join(BACKENDS)}")
    folder = resolve_model_dir(model)
    import torch

    from t2a_edge.core.model import load_model
    from t2a_edge.core.model_files import read_model_meta
    from t2a_edge.runtimes.torch_backend import TorchBackend

    if backend == "cuda" or device == "cuda":
        if not torch.cuda.is_available():
            raise T2AError("CUDA was asked for but no CUDA GPU is available here: use --backend torch (CPU)")
        device, why = "cuda", "asked for CUDA"
    elif backend == "auto" and device is None and torch.cuda.is_available():
        device, why = "cuda", "auto: a CUDA GPU is present (full-precision reference)"
    else:
        device = device or "cpu"
        why = "asked for torch" if backend == "torch" else "auto: no GPU; torch on CPU"
    if precision != "fp32":
        raise T2AError(f"the torch backend runs fp32 only, not {precision}")
    meta = read_model_meta(folder)
    return TorchBackend(load_model(folder, device), device), meta, why
