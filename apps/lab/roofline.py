"""Lab probe: how fast one generation could possibly run on this CPU (work per component against GEMM peaks).

    t2a-edge lab roofline [--seconds 10] [--runs 9]

Counts the floating-point work of each component of the default model at one generation (batch 1,
K = 1, cfg 1) with torch's FlopCounterMode, measures this machine's matrix-product peak in fp32
(torch) and int8 (ONNX Runtime's MatMulInteger, what its dynamic int8 runs) on large products and
on the model's own decoder product, times Griffin-Lim and the torch path end to end, and prints the
fastest possible generation if every product ran at those peaks. Against the edge target (3x torch)
it says how much compute rate the target needs and how much this CPU has.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from t2a_edge.convert.export import components, sample_inputs, to_torch
from t2a_edge.core.model import load_model
from t2a_edge.core.paths import default_model_dir
from t2a_edge.core.phase import synthesize


def median_ms(call, runs: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - start))
    return float(np.median(times))


def component_flops(model, seconds: float) -> dict[str, float]:
    """FLOPs (2 per multiply-add) of each component at one batch-1 generation of `seconds`."""
    tokens = model.cfg.tokens_for(seconds)
    flops = {}
    for component in components(model):
        inputs = sample_inputs(component.name, model.cfg, 1, tokens, guidance_rows=1)
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            component.module(*to_torch(inputs))
        flops[component.name] = float(counter.get_total_flops())
    return flops


def torch_gemm_gflops(m: int, k: int, n: int, runs: int) -> float:
    a, b = torch.randn(m, k), torch.randn(k, n)
    return 2 * m * k * n / median_ms(lambda: torch.mm(a, b), runs) / 1e6


def ort_gemm_gops(m: int, k: int, n: int, runs: int, integer: bool) -> float:
    """Throughput of one ONNX Runtime MatMulInteger (uint8 x int8) or fp32 MatMul of this shape."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    if integer:
        weight = numpy_helper.from_array(rng.integers(-127, 128, (k, n)).astype(np.int8), "w")
        node = helper.make_node("MatMulInteger", ["a", "w"], ["y"])
        a_type, y_type, a = TensorProto.UINT8, TensorProto.INT32, rng.integers(0, 256, (m, k)).astype(np.uint8)
    else:
        weight = numpy_helper.from_array(rng.standard_normal((k, n)).astype(np.float32), "w")
        node = helper.make_node("MatMul", ["a", "w"], ["y"])
        a_type, y_type, a = TensorProto.FLOAT, TensorProto.FLOAT, rng.standard_normal((m, k)).astype(np.float32)
    graph = helper.make_graph([node], "gemm", [helper.make_tensor_value_info("a", a_type, [m, k])],
                              [helper.make_tensor_value_info("y", y_type, [m, n])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    # ONNX Runtime's default options, not the backend's: with one product per run, thread spinning
    # (which the backend turns off between its components) is faster: fp32 1024^3 at 91 GFLOP/s
    # against 67 with the backend's options, interleaved in one process.
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return 2 * m * k * n / median_ms(lambda: session.run(None, {"a": a}), runs) / 1e6


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    model = load_model(default_model_dir())
    flops = component_flops(model, args.seconds)
    total = sum(flops.values())
    frames = int(round(args.seconds * model.cfg.codec.sample_rate / model.cfg.codec.hop))
    magnitude = np.random.default_rng(0).random((1, model.cfg.codec.n_fft // 2 + 1, frames)).astype(np.float32) + 0.01
    griffin_lim = median_ms(lambda: synthesize(magnitude, model.cfg.codec), args.runs)

    from t2a_edge import TextToAudio
    tta = TextToAudio.load("default", backend="torch")
    torch_ms = median_ms(lambda: tta.generate("dog barking", seconds=args.seconds, steps=1, cfg=1.0), args.runs)

    # The decoder's widest product: every latent frame through a ConvNeXt block's first linear layer.
    width = model.cfg.codec.decoder_width
    shapes = {"square 1024": (1024, 1024, 1024),
              f"decoder {frames // 2}x{width}x{4 * width}": (frames // 2, width, 4 * width)}
    peaks = {}
    for label, (m, k, n) in shapes.items():
        peaks[label] = {"torch fp32": torch_gemm_gflops(m, k, n, args.runs),
                        "ORT fp32": ort_gemm_gops(m, k, n, args.runs, integer=False),
                        "ORT int8": ort_gemm_gops(m, k, n, args.runs, integer=True)}

    print(f"one generation of {args.seconds:g} s (batch 1, K = 1, cfg 1), {torch.get_num_threads()} threads")
    for name, value in flops.items():
        print(f"  {name:13s} {value / 1e9:6.2f} GFLOP")
    print(f"  {'total':13s} {total / 1e9:6.2f} GFLOP; Griffin-Lim (numpy) {griffin_lim:.1f} ms; "
          f"torch end to end {torch_ms:.1f} ms")
    print("matrix-product rate (GFLOP/s, int8: GOP/s)")
    for label, rates in peaks.items():
        print(f"  {label:24s} " + "  ".join(f"{k} {v:6.1f}" for k, v in rates.items()))
    best = max(rate for rates in peaks.values() for rate in rates.values())
    floor = total / best / 1e6 + griffin_lim
    budget = torch_ms / 3
    print(f"fastest possible (every product at the best rate above, {best:.0f}) + Griffin-Lim: {floor:.1f} ms "
          f"= {torch_ms / floor:.2f}x torch")
    print(f"3x torch = {budget:.1f} ms; less Griffin-Lim leaves {budget - griffin_lim:.1f} ms for "
          f"{total / 1e9:.2f} GFLOP: {total / max(budget - griffin_lim, 1e-3) / 1e6:.0f} GFLOP/s needed "
          f"({total / budget / 1e6:.0f} even if Griffin-Lim cost nothing)")


if __name__ == "__main__":
    main()
