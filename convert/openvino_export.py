"""Lowering to OpenVINO IR (from the ONNX graph) and NNCF int8 quantization."""

from __future__ import annotations

import tempfile
from pathlib import Path

from t2a_edge.convert.export import Component
from t2a_edge.convert.onnx_export import export_onnx, quiet

EXT = ".xml"


def _ir_files(path: Path) -> list[str]:
    return [path.name, path.with_suffix(".bin").name]


def _fp32_model(component: Component, program, folder: Path):
    import openvino as ov

    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        onnx_path = export_onnx(component, program, Path(tmp) / f"{component.name}.onnx")
        with quiet():
            return ov.convert_model(str(onnx_path))


def lower(component: Component, program, config, folder: Path, precision: str) -> list[str]:
    """IR (.xml + .bin) of a component; fp16 stores fp16 weights (computed per the runtime hint)."""
    import openvino as ov

    model = _fp32_model(component, program, folder)
    path = folder / f"{component.name}{EXT}"
    ov.save_model(model, str(path), compress_to_fp16=precision == "fp16")
    return _ir_files(path)


def quantize(component: Component, program, config, folder: Path, fp32_file: str, calibration) -> dict[str, list[str]]:
    """int8 candidates: NNCF static quantization on calibration inputs, int8 weight compression, for
    the decoder static int8 with int8-weight output projections, and for the text encoder int8
    weights with 4-bit word embeddings; each also computed in bf16 where the CPU has it (OpenVINO's
    own default there), which `candidate_spec` records."""
    import nncf
    import openvino as ov

    core = ov.Core()
    candidates = {}
    model_type = nncf.ModelType.TRANSFORMER if component.name in ("text_encoder", "step") else None
    with quiet():
        fp32 = core.read_model(str(folder / fp32_file))
        quantized = nncf.quantize(fp32, nncf.Dataset(calibration), model_type=model_type,
                                  subset_size=len(calibration), fast_bias_correction=True)
        path = folder / f"{component.name}.int8{EXT}"
        ov.save_model(quantized, str(path), compress_to_fp16=False)
        candidates["nncf-static-int8"] = _ir_files(path)
        compressed = nncf.compress_weights(core.read_model(str(folder / fp32_file)),
                                           mode=nncf.CompressWeightsMode.INT8_ASYM)
        path = folder / f"{component.name}.int8w{EXT}"
        ov.save_model(compressed, str(path), compress_to_fp16=False)
        candidates["nncf-weights-int8"] = _ir_files(path)
        if component.name == "decoder":
            # The output projections make log-magnitudes that exp() turns into the STFT: with static
            # int8 activations there too, v15's decoder measured error 0.113 on held-out prompts
            # (limit 0.1); with those two matmuls at int8 weights on fp32 activations, 0.064 at the
            # same speed and size (6.3 ms against 6.2, weights-only int8 9.3, fp32 15.8; 2 vCPUs, VNNI).
            fresh = core.read_model(str(folder / fp32_file))
            keep = nncf.IgnoredScope(names=output_projections(fresh, config))
            mixed = nncf.quantize(fresh, nncf.Dataset(calibration), subset_size=len(calibration),
                                  fast_bias_correction=True, ignored_scope=keep)
            mixed = nncf.compress_weights(mixed, mode=nncf.CompressWeightsMode.INT8_ASYM)
            path = folder / f"{component.name}.int8o{EXT}"
            ov.save_model(mixed, str(path), compress_to_fp16=False)
            candidates["nncf-static-int8+w8out"] = _ir_files(path)
        if component.name == "text_encoder":
            # The 30522 x 384 word embeddings are half the encoder: 4-bit groups of 32 (a lookup, no
            # arithmetic) store them in 6 MB instead of 12 at int8; the matmuls stay int8.
            embeddings = nncf.compress_weights(core.read_model(str(folder / fp32_file)),
                                               mode=nncf.CompressWeightsMode.INT4_SYM, ratio=1.0, group_size=32,
                                               all_layers=True, ignored_scope=nncf.IgnoredScope(types=["MatMul"]))
            small = nncf.compress_weights(embeddings, mode=nncf.CompressWeightsMode.INT8_ASYM)
            path = folder / f"{component.name}.int8e4{EXT}"
            ov.save_model(small, str(path), compress_to_fp16=False)
            candidates["nncf-weights-int8+emb4"] = _ir_files(path)
    if "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        candidates.update({f"{label}{BF16}": files for label, files in list(candidates.items())})
    return candidates


def output_projections(model, config) -> list[str]:
    """Names of the decoder's matmuls onto its output, downsample x bins log-magnitudes (the PCA
    inverse and the stack's last linear), matched by their constant weight's shape."""
    width = config.codec.downsample * (config.codec.n_fft // 2 + 1)
    names = []
    for op in model.get_ops():
        if op.get_type_name() != "MatMul":
            continue
        shapes = [i.get_partial_shape() for i in op.inputs()]
        if any(s.rank.get_length() == 2 and s.is_static and width in s.to_shape() for s in shapes):
            names.append(op.get_friendly_name())
    return names


BF16 = "+bf16"


def candidate_spec(label: str, spec: dict) -> dict:
    """The manifest entry of an int8 candidate: "+bf16" ones run their float parts in bf16."""
    return dict(spec, compute="bf16") if label.endswith(BF16) else spec
