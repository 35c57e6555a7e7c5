"""ExecuTorch backend: runs .pte programs (XNNPACK delegate) through the pip runtime's pybindings.

The pybindings take and return torch tensors, so this path imports torch (the ONNX Runtime and
OpenVINO paths do not). A missing kernel shows only when a method loads, so every program is
loaded here, at backend creation.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import numpy as np

from t2a_edge.core.errors import T2AError
from t2a_edge.runtimes.bundle_backend import BundleBackend


@contextlib.contextmanager
def _quiet_imports():
    """executorch pulls torchao, which warns about CUDA-only kernels it cannot load on a CPU build."""
    import io
    import logging
    import warnings

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            root.setLevel(level)


@contextlib.contextmanager
def native_stderr_silenced():
    """Hide the C++ runtime's informational lines (cpuinfo probing) written straight to fd 2."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _set_xnnpack_threads(threads: int) -> None:
    """Size ExecuTorch's shared threadpool (XNNPACK's workers) like the other runtimes' pools."""
    try:
        from executorch.extension.pybindings import portable_lib
    except ImportError:
        return
    with native_stderr_silenced():  # the threadpool logs its CPU probing and resets to fd 2
        if portable_lib._threadpool_get_thread_count() != threads:
            portable_lib._unsafe_reset_threadpool(threads)


# The step program's methods by backbone rows (cfg 1 runs one row): XNNPACK takes one dynamic
# dimension, the token count, so each row count is its own method; they share the weights in the file.
STEP_METHODS = {2: "forward", 1: "forward_one_row"}


def method_for(inputs: dict[str, np.ndarray]) -> str:
    """The program method a component call runs: the step's by its row count, else forward."""
    return STEP_METHODS[len(inputs["guidance"])] if "guidance" in inputs else "forward"


class ExecuTorchBackend(BundleBackend):
    """Each component is the loaded methods of an ExecuTorch program (`forward`; the step also one per row count)."""

    name = "executorch"

    def _open(self, component: str, path: Path):
        try:
            import torch

            with _quiet_imports():
                from executorch.runtime import Runtime
        except ImportError:
            raise T2AError("the executorch backend needs ExecuTorch: pip install executorch") from None
        torch.set_num_threads(self.threads)
        _set_xnnpack_threads(self.threads)
        try:
            with native_stderr_silenced():
                program = Runtime.get().load_program(str(path))
                methods = {name: program.load_method(name) for name in sorted(program.method_names)}
        except Exception as exc:  # a missing operator or a bad file shows up here
            raise T2AError(f"ExecuTorch cannot load {path}: {str(exc).strip().splitlines()[0]}") from None
        if "forward" not in methods:
            raise T2AError(f"ExecuTorch program {path} has no forward method")
        return program, methods, tuple(self.manifest["components"][component]["inputs"])

    def _run(self, component: str, session, inputs: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        _, methods, names = session
        # Converter 15 on: the step's method of its row count; older bundles: forward, two rows.
        method = methods.get(method_for(inputs), methods["forward"])
        try:
            out = method.execute([torch.from_numpy(np.ascontiguousarray(inputs[n])) for n in names])
        except RuntimeError as exc:
            raise T2AError(f"ExecuTorch failed running {component}: {str(exc).strip().splitlines()[0]}") from None
        return out[0].numpy().copy()
