"""Lowering to ExecuTorch (.pte, XNNPACK delegate) and XNNPACK PT2E int8 quantization."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from t2a_edge.convert.export import (ATTENTION_AS_MATMULS, BACKEND_MAX_BATCH, Component, dynamic_shapes,
                                     example_for_export, export_friendly, to_torch)
from t2a_edge.convert.onnx_export import quiet
from t2a_edge.runtimes.executorch_backend import STEP_METHODS

EXT = ".pte"


def _write(programs: dict, path: Path) -> Path:
    """Lower {method name: ExportedProgram} to one .pte through the XNNPACK delegate."""
    with quiet():  # importing executorch/torchao prints warnings about optional CUDA kernels
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower

        executorch_program = to_edge_transform_and_lower(programs, partitioner=[XnnpackPartitioner()]).to_executorch()
    path.write_bytes(executorch_program.buffer)
    return path


def _export(module, component: Component, config, guidance_rows: int = 2):
    """torch.export for ExecuTorch: batch 1, dynamic token count, the step at a fixed row count."""
    from torch.export import export

    max_batch = BACKEND_MAX_BATCH["executorch"]
    example = example_for_export(component, config, max_batch, guidance_rows)
    shapes = dynamic_shapes(component, config, max_batch, guidance_rows)
    with export_friendly(ATTENTION_AS_MATMULS["executorch"]), torch.no_grad():
        return export(module, to_torch(example), dynamic_shapes=shapes)


def _methods(component: Component, config, two_rows, module_for_rows) -> dict:
    """{method: program}: `forward` alone, or for the step one program per row count."""
    if "guidance" not in component.inputs:
        return {"forward": two_rows}
    return {STEP_METHODS[2]: two_rows, STEP_METHODS[1]: _export(module_for_rows(1), component, config, 1)}


def lower(component: Component, program, config, folder: Path, precision: str) -> list[str]:
    """The fp32 .pte of a component (fp16 is refused by bundle.check_convertible)."""
    if precision != "fp32":
        raise ValueError(f"executorch lowering is fp32 (int8 through quantize), not {precision}")
    methods = _methods(component, config, program, lambda rows: component.module)
    return [_write(methods, folder / f"{component.name}{EXT}").name]


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

        def quantized(rows: int):
            """The component quantized at a fixed row count (weights quantize the same at either)."""
            source = program if rows == 2 else _export(component.module, component, config, rows)
            with quiet(), torch.no_grad():
                prepared = prepare_pt2e(source.module(), quantizer)
                # Dynamic quantization measures activations at run time: one pass only exercises the graph.
                for inputs in (calibration[:1] if dynamic else calibration):
                    prepared(*to_torch(_with_rows(inputs, rows)))
                return convert_pt2e(prepared)

        methods = _methods(component, config, _export(quantized(2), component, config), quantized)
        path = folder / f"{component.name}.{'int8' if dynamic else 'int8s'}{EXT}"
        _write(methods, path)
        candidates[label] = [path.name]
    return candidates


def _with_rows(inputs: dict, rows: int) -> dict:
    """Calibration inputs at a program's row count: one row [w] is the same step as [w, 0], and two
    rows [cfg, 1 - cfg] fold to [1], the conditional pass alone."""
    if "guidance" not in inputs or len(inputs["guidance"]) == rows:
        return inputs
    guidance = inputs["guidance"]
    resized = np.array([guidance[0], 0.0], np.float32) if rows == 2 else np.array([guidance.sum()], np.float32)
    return {**inputs, "guidance": resized}
