"""Lowering to CoreML (.mlpackage, ML program) with ranged shapes, and a structural check.

coremltools converts on any OS; predictions need macOS. On other systems the conversion is
checked structurally instead: input and output names and shape ranges, every MIL op registered
for the deployment target, and the size on disk.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from t2a_edge.convert.export import Component, min_tokens
from t2a_edge.convert.onnx_export import quiet
from t2a_edge.core.errors import T2AError

EXT = ".mlpackage"
TARGET = "iOS17"  # also macOS 14: the first ML program target with every op these graphs use


def _ct():
    """coremltools, imported quietly (off macOS it reports its missing native libraries)."""
    with quiet():
        import coremltools

    return coremltools


def _convert(component: Component, program, precision: str):
    ct = _ct()

    compute = ct.precision.FLOAT16 if precision == "fp16" else ct.precision.FLOAT32
    with quiet():
        model = ct.convert(program.run_decompositions({}), convert_to="mlprogram",
                           minimum_deployment_target=getattr(ct.target, TARGET), compute_precision=compute,
                           compute_units=ct.ComputeUnit.ALL)
    # Name the output as the other runtimes do.
    spec = model.get_spec()
    produced = spec.description.output[0].name
    if produced != component.outputs[0]:
        ct.utils.rename_feature(spec, produced, component.outputs[0])
        model = ct.models.MLModel(spec, weights_dir=model.weights_dir, skip_model_load=True)
    return model


def _save(model, path: Path) -> list[str]:
    if path.exists():
        shutil.rmtree(path)
    model.save(str(path))
    return [path.name]


def lower(component: Component, program, config, folder: Path, precision: str) -> list[str]:
    return _save(_convert(component, program, precision), folder / f"{component.name}{EXT}")


def quantize(component: Component, program, config, folder: Path, fp32_file: str, calibration) -> dict[str, list[str]]:
    """int8 candidate: coremltools linear (symmetric, per-channel) weight quantization."""
    ct = _ct()
    from coremltools.optimize.coreml import OpLinearQuantizerConfig, OptimizationConfig, linear_quantize_weights

    with quiet():
        model = ct.models.MLModel(str(folder / fp32_file), skip_model_load=True)
        config_q = OptimizationConfig(global_config=OpLinearQuantizerConfig(mode="linear_symmetric",
                                                                            weight_threshold=2048))
        quantized = linear_quantize_weights(model, config=config_q)
    return {"coreml-weights-int8": _save(quantized, folder / f"{component.name}.int8{EXT}")}


def int32_inputs(component: Component) -> list[str]:
    """Integer inputs CoreML takes as int32 (it has no int64 tensors)."""
    return [n for n in component.inputs if n in ("ids", "mask")]


def structural_check(path: Path, component: Component, config) -> dict:
    """Inputs, outputs, op support and size of a converted .mlpackage (runs on any OS)."""
    ct = _ct()
    from coremltools.converters.mil.mil.ops.registry import SSAOpRegistry

    spec = ct.utils.load_spec(str(path))
    inputs = {i.name: i for i in spec.description.input}
    outputs = [o.name for o in spec.description.output]
    problems = []
    if list(inputs) != list(component.inputs):
        problems.append(f"inputs {list(inputs)} != {list(component.inputs)}")
    if outputs != list(component.outputs):
        problems.append(f"outputs {outputs} != {list(component.outputs)}")
    ranges = {}
    for name, axes in component.dynamic.items():
        array = inputs[name].type.multiArrayType if name in inputs else None
        if array is None or array.WhichOneof("ShapeFlexibility") != "shapeRange":
            problems.append(f"input {name} has no flexible shape")
            continue
        sizes = [(r.lowerBound, r.upperBound) for r in array.shapeRange.sizeRanges]
        ranges[name] = sizes
        for axis, kind in axes.items():
            want = config.max_tokens if kind == "tokens" else None
            least = min_tokens(config) if kind == "tokens" else 1
            if sizes[axis][0] > least or (want and sizes[axis][1] < want):
                problems.append(f"input {name} axis {axis} ranges over {sizes[axis]}")
    target = getattr(ct.target, TARGET)
    ops = set()
    for function in spec.mlProgram.functions.values():
        for block in function.block_specializations.values():
            ops.update(_op_types(block))
    unsupported = sorted(op for op in ops if not any(v <= target for v in SSAOpRegistry.core_ops.get(op, {})))
    if unsupported:
        problems.append(f"ops not supported on {TARGET}: {', '.join(unsupported)}")
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    if problems:
        raise T2AError(f"CoreML {component.name} failed its structural check: {'; '.join(problems)}")
    return {"inputs": list(inputs), "outputs": outputs, "ranges": ranges, "ops": sorted(ops),
            "op_count": len(ops), "bytes": size, "target": TARGET}


def _op_types(block):
    for op in block.operations:
        yield op.type
        for inner in op.blocks:
            yield from _op_types(inner)
