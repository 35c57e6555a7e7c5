"""Lab probe: the ExecuTorch step's two methods (two backbone rows, one row) at 10 s, in one process.

    t2a-edge lab step-rows [--precision fp32|int8] [--runs 9]

Converts the default model's ExecuTorch bundle first if it is not cached. At cfg 1 the two-row
method gets guidance [1, 0] (what older bundles ran) and the one-row method [1]: the same output.
Calls alternate between the methods, so a drifting machine slows both alike.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from t2a_edge.convert.export import sample_inputs
from t2a_edge.core.paths import default_model_dir
from t2a_edge.runtimes.executorch_backend import STEP_METHODS, ExecuTorchBackend
from t2a_edge.runtimes.select import ensure_bundle


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--precision", choices=("fp32", "int8"), default="fp32")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    folder, _ = ensure_bundle(default_model_dir(), "executorch", args.precision)
    backend = ExecuTorchBackend(folder)
    _, methods, names = backend.sessions["step"]
    calls = {}
    for rows, method in sorted(STEP_METHODS.items()):
        inputs = sample_inputs("step", backend.config, 1, backend.config.max_tokens, seed=1, guidance_rows=rows)
        inputs["guidance"] = np.array([1.0, 0.0] if rows == 2 else [1.0], np.float32)
        calls[rows] = (methods[method], [torch.from_numpy(inputs[n]) for n in names])
    outputs = {rows: method.execute(tensors)[0].numpy() for rows, (method, tensors) in calls.items()}  # warm-up
    times = {rows: [] for rows in calls}
    for _ in range(args.runs):
        for rows, (method, tensors) in calls.items():
            start = time.perf_counter()
            method.execute(tensors)
            times[rows].append(1000 * (time.perf_counter() - start))
    print(f"ExecuTorch {args.precision} step, {backend.config.max_seconds:g} s, {backend.threads} threads, "
          f"{args.runs} interleaved calls each")
    for rows, values in times.items():
        print(f"  {rows} row{'s' if rows > 1 else ' '} ({STEP_METHODS[rows]}): median {np.median(values):.1f} ms, "
              f"IQR {np.percentile(values, 25):.1f}-{np.percentile(values, 75):.1f}")
    print(f"  max |one row - two rows| = {np.abs(outputs[1] - outputs[2]).max():.2e}")


if __name__ == "__main__":
    main()
