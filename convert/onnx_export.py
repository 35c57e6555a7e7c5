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
                                         output_names=list(component.outputs), verbose=False)
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

    from t2a_edge.convert.export import input_projection_shapes

    source = folder / fp32_file
    graph = onnx.load(str(source), load_external_data=False).graph
    shapes = {init.name: tuple(numpy_helper.to_array(init).shape) for init in graph.initializer if len(init.dims) == 2}
    keep = input_projection_shapes(config) if component.name == "step" else set()
    exclude = [node.name for node in graph.node if node.op_type in ("MatMul", "Gemm")
               and any(shapes.get(name) in keep for name in node.input)]
    # Convolutions stay fp32: the decoder's depthwise convs (the only Conv nodes left after
    # export.fast_convs) ran 11x slower as ConvInteger (8.8 against 0.8 ms per 10 s decode) and
    # took all of the int8 matmuls' gain with them.
    exclude += [node.name for node in graph.node if node.op_type == "Conv"]
    target = folder / f"{component.name}.int8{EXT}"
    candidates = {"ort-dynamic-int8": [target.name]}
    with quiet():
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_exclude=exclude)
        if component.name == "text_encoder":
            # The 30522 x 384 word embeddings are half the encoder: 4-bit blocks of 32 (a lookup, no
            # arithmetic) store them in 6 MB instead of 12 at int8; measured like any candidate.
            embedded = folder / f"{component.name}.emb4.tmp{EXT}"
            small = folder / f"{component.name}.int8e4{EXT}"
            _quantize_embeddings(source, embedded)
            quantize_dynamic(str(embedded), str(small), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["MatMul"], nodes_to_exclude=exclude)
            embedded.unlink()
            candidates["ort-dynamic-int8+emb4"] = [small.name]
    return candidates


def _quantize_embeddings(source: Path, target: Path) -> None:
    """Gathers from constant tables -> GatherBlockQuantized, 4-bit blocks of 32 with zero points.

    Zero points, because a block of word-embedding values is not centred on 0: on the default
    model's held-out captions the embeddings alone measured error 0.068 asymmetric against 0.099
    symmetric, and with the int8 matmuls 0.177 against 0.204 (limit 0.2), at the same size.
    """
    from onnxruntime.quantization import matmul_nbits_quantizer, quant_utils

    config = matmul_nbits_quantizer.DefaultWeightOnlyQuantConfig(
        block_size=32, is_symmetric=False, quant_format=quant_utils.QuantFormat.QOperator,
        op_types_to_quantize=("Gather",), quant_axes=(("Gather", 1),), bits=4)
    quantizer = matmul_nbits_quantizer.MatMulNBitsQuantizer(quant_utils.load_model_with_shape_infer(source),
                                                             algo_config=config)
    quantizer.process()
    quantizer.model.save_model_to_file(str(target), False)
