"""Lowering to ONNX (torch.onnx dynamo exporter) and ONNX Runtime quantization."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

from t2a_edge.convert.export import Component

EXT = ".onnx"


@contextlib.contextmanager
def quiet():
    """Silence the exporters' warnings and banners (they go to stdout, stderr and logging)."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "onnxscript", "torch._dynamo",
                                              "torch.utils._pytree", "root", "nncf", "coremltools")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


def export_onnx(component: Component, program, path: Path) -> Path:
    """Write the fp32 ONNX graph of an exported program (one self-contained file)."""
    import torch

    with quiet():
        onnx_program = torch.onnx.export(program, (), dynamo=True, input_names=list(component.inputs),
                                         output_names=list(component.outputs), optimize=True, verbose=False)
        onnx_program.save(str(path), external_data=False)
    return path


def lower(component: Component, program, config, folder: Path, precision: str) -> list[str]:
    """fp32 or fp16 graph of a component in `folder`; returns the files written (first = the one to open)."""
    path = export_onnx(component, program, folder / f"{component.name}{EXT}")
    if precision == "fp16":
        import onnx
        from onnxruntime.transformers.float16 import convert_float_to_float16

        with quiet():
            model = convert_float_to_float16(onnx.load(str(path)), keep_io_types=True)
        onnx.save(model, str(path))
    return [path.name]


def quantize(component: Component, program, config, folder: Path, fp32_file: str, calibration) -> dict[str, list[str]]:
    """int8 candidates: ONNX Runtime dynamic quantization (int8 weights, activations per call)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    import onnx
    from onnx import numpy_helper

    from t2a_edge.convert.export import dsp_shapes

    source = folder / fp32_file
    graph = onnx.load(str(source), load_external_data=False).graph
    shapes = {init.name: tuple(numpy_helper.to_array(init).shape) for init in graph.initializer if len(init.dims) == 2}
    keep = dsp_shapes(config)
    exclude = [node.name for node in graph.node if node.op_type in ("MatMul", "Gemm")
               and any(shapes.get(name) in keep for name in node.input)]
    target = folder / f"{component.name}.int8{EXT}"
    with quiet():
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_exclude=exclude)
    return {"ort-dynamic-int8": [target.name]}
