"""Lowering to ExecuTorch (.pte, XNNPACK delegate) and XNNPACK PT2E int8 quantization."""

from __future__ import annotations

from pathlib import Path

import torch

from t2a_edge.convert.export import (ATTENTION_AS_MATMULS, BACKEND_GUIDANCE_ROWS, BACKEND_MAX_BATCH, Component,
                                     dynamic_shapes,
                                     example_for_export, export_friendly, to_torch)
from t2a_edge.convert.onnx_export import quiet

EXT = ".pte"


def _write(program, path: Path) -> Path:
    with quiet():  # importing executorch/torchao prints warnings about optional CUDA kernels
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower

        executorch_program = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch()
    path.write_bytes(executorch_program.buffer)
    return path


def _reexport(module, component: Component, config):
    from torch.export import export

    max_batch = BACKEND_MAX_BATCH["executorch"]
    example = example_for_export(component, config, max_batch)
    shapes = dynamic_shapes(component, config, max_batch, BACKEND_GUIDANCE_ROWS["executorch"])
    with export_friendly(ATTENTION_AS_MATMULS["executorch"]), torch.no_grad():
        return export(module, to_torch(example), dynamic_shapes=shapes)


def lower(component: Component, program, config, folder: Path, precision: str) -> list[str]:
    """The fp32 .pte of a component (fp16 is refused by bundle.check_convertible)."""
    if precision != "fp32":
        raise ValueError(f"executorch lowering is fp32 (int8 through quantize), not {precision}")
    return [_write(program, folder / f"{component.name}{EXT}").name]


def quantize(component: Component, program, config, folder: Path, fp32_file: str, calibration,
             modes: tuple[str, ...] = ("dynamic",)) -> dict[str, list[str]]:
    """int8 candidates through XNNPACKQuantizer (per-channel int8 weights).

    Dynamic activation quantization only, by default: static (calibrated) activations were measured
    as well and lost too much (||error|| / ||torch|| 0.33 on the step and 0.35 on the decoder of a
    random-weight tiny model, against 0.02 and 0.007 dynamic), so they cost a lowering for nothing.
    """
    with quiet():
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                              get_symmetric_quantization_config)
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    candidates = {}
    for label, dynamic in (("xnnpack-dynamic-int8", True), ("xnnpack-static-int8", False)):
        if ("dynamic" if dynamic else "static") not in modes:
            continue
        quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True,
                                                                                     is_dynamic=dynamic))
        with quiet(), torch.no_grad():
            prepared = prepare_pt2e(program.module(), quantizer)
            # Dynamic quantization measures activations at run time: one pass only exercises the graph.
            for inputs in (calibration[:1] if dynamic else calibration):
                prepared(*to_torch(inputs))
            quantized = convert_pt2e(prepared)
            path = folder / f"{component.name}.{'int8' if dynamic else 'int8s'}{EXT}"
            _write(_reexport(quantized, component, config), path)
        candidates[label] = [path.name]
    return candidates
