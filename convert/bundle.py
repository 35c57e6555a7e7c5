"""Convert a student model into runtime bundles: export, lower, quantize, check parity, write atomically.

    convert_bundles(model, ["onnx", "openvino"], ["fp32", "int8"], out_for=lambda b, p: Path(...))

exports each component once with torch.export, lowers it for every backend asked for, measures
each fp32 component against torch on fixed random inputs (held to 1e-4 relative error), picks
int8 per component by measurement, runs the finished bundle end to end through its runtime
backend against the torch fp32 reference, and only then renames the folder into place.
"""

from __future__ import annotations

import datetime
import importlib
import importlib.util
import os
import platform
import shutil
import tempfile
from pathlib import Path

import numpy as np

from t2a_edge.core.bundle import BUNDLE_FORMAT, CONVERTER_VERSION, EDGE_BACKENDS, MANIFEST, PRECISIONS, hash_tree
from t2a_edge.core.errors import T2AError
from t2a_edge.core.paths import refuse_to_replace
from t2a_edge.core.settings import Settings

FP32_TOLERANCE = 1e-4  # max |a - b| / max |b| of each fp32 component against torch
FP16_TOLERANCE = 1e-2  # ||a - b|| / ||b|| of fp16 components (half precision keeps about 3 digits)
E2E_SNR_DB = 30.0  # fp32 bundle vs torch fp32, same seed
JUDGE_COSINE = 0.9  # int8 bundle vs fp32 torch, judge embeddings (where the judge is installed)
E2E_PROMPTS = ("a dog barks twice", "heavy rain on a tin roof")
E2E_SETTINGS = {"seconds": 3.0, "steps": 4, "cfg": 3.0, "temperature": 0.7, "seed": 0}

EXPORTERS = {"onnx": "t2a_edge.convert.onnx_export", "openvino": "t2a_edge.convert.openvino_export",
             "coreml": "t2a_edge.convert.coreml_export", "executorch": "t2a_edge.convert.executorch_export"}
RUNTIMES = {"onnx": ("t2a_edge.runtimes.onnx_backend", "OnnxBackend"),
            "openvino": ("t2a_edge.runtimes.openvino_backend", "OpenVinoBackend"),
            "coreml": ("t2a_edge.runtimes.coreml_backend", "CoreMLBackend"),
            "executorch": ("t2a_edge.runtimes.executorch_backend", "ExecuTorchBackend")}
# What converting needs, per backend (running may need less: see runtimes/select.py).
CONVERT_NEEDS = {"onnx": ("onnx", "onnxscript", "onnxruntime"), "openvino": ("onnx", "onnxscript", "openvino", "nncf"),
                 "coreml": ("coremltools",), "executorch": ("executorch",)}


def runtime_class(backend: str):
    module, name = RUNTIMES[backend]
    return getattr(importlib.import_module(module), name)


def can_run_here(backend: str) -> bool:
    return backend != "coreml" or platform.system() == "Darwin"


def check_convertible(backend: str, precision: str) -> None:
    """One-line errors for an unknown backend/precision or a missing conversion package."""
    if backend not in EDGE_BACKENDS:
        raise T2AError(f"unknown backend '{backend}': choose one of {', '.join(EDGE_BACKENDS)} or all")
    if precision not in PRECISIONS:
        raise T2AError(f"unknown precision '{precision}': choose one of {', '.join(PRECISIONS)}")
    if backend == "executorch" and precision == "fp16":
        raise T2AError("executorch bundles are fp32 or int8: its XNNPACK fp16 path gave NaN in the text encoder "
                       "here; use --precision fp32 or int8")
    for package in CONVERT_NEEDS[backend]:
        if importlib.util.find_spec(package) is None:
            raise T2AError(f"converting to {backend} needs the '{package}' package: pip install 't2a-edge[edge]'")


class _Progress:
    """Counts conversion stages for a progress bar (or does nothing)."""

    def __init__(self, callback, total: int):
        self.callback, self.total, self.done = callback, total, 0

    def __call__(self, text: str) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(text, self.done, self.total)


def _versions(backend: str) -> dict:
    import torch

    names = {"onnx": ("onnx", "onnxruntime"), "openvino": ("openvino", "nncf"), "coreml": ("coremltools",),
             "executorch": ("executorch",)}[backend]
    out = {"torch": torch.__version__}
    for name in names:
        try:
            from importlib.metadata import version

            out[name] = version(name)
        except Exception:
            out[name] = None
    return out


def _tmp_dir(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))


def _place(tmp: Path, out: Path, force: bool) -> None:
    """Rename the finished temp folder onto `out` (replacing an old bundle only with force)."""
    if out.exists():
        try:
            refuse_to_replace(out, MANIFEST, "bundle", force)
        except T2AError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        trash = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, trash)
        os.replace(tmp, out)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, out)


def torch_reference(model, text_encoder, prompts=E2E_PROMPTS, settings=None) -> np.ndarray:
    """The torch fp32 waveforms the end-to-end parity is measured against."""
    from t2a_edge.runtimes.torch_backend import TorchBackend

    from t2a_edge.core.tokenizer import Tokenizer
    from t2a_edge.runtimes.sampler import run_pipeline

    s = dict(E2E_SETTINGS, **(settings or {}))
    backend = TorchBackend(model, "cpu", text_encoder)
    seconds = min(s["seconds"], model.cfg.max_seconds)
    plan = Settings.as_drawn(seconds=seconds, steps=s["steps"], cfg=s["cfg"], temperature=s["temperature"],
                             seed=s["seed"])
    wave, _ = run_pipeline(backend, Tokenizer(model.cfg.backbone.text_tokens), list(prompts), plan)
    return wave


def bundle_waveform(backend, prompts=E2E_PROMPTS, settings=None) -> np.ndarray:
    from t2a_edge.core.tokenizer import Tokenizer
    from t2a_edge.runtimes.sampler import run_pipeline

    s = dict(E2E_SETTINGS, **(settings or {}))
    config = backend.config
    seconds = min(s["seconds"], config.max_seconds)
    plan = Settings.as_drawn(seconds=seconds, steps=s["steps"], cfg=s["cfg"], temperature=s["temperature"],
                             seed=s["seed"])
    wave, _ = run_pipeline(backend, Tokenizer(config.backbone.text_tokens), list(prompts), plan)
    return wave


def convert_bundles(model, backends, precisions, out_for, *, text_encoder=None, model_meta: dict | None = None,
                    force: bool = False, progress=None, check_end_to_end: bool = True) -> dict[tuple, dict]:
    """Convert `model` for each backend and precision; returns (backend, precision) -> manifest.

    out_for(backend, precision) gives each bundle's folder. The fp32 lowering of a backend is shared
    by its fp32 and int8 bundles (int8 keeps fp32 components where quantizing does not pay).
    """
    import torch

    from t2a_edge.convert.export import (ATTENTION_AS_MATMULS, BACKEND_MAX_BATCH, DYNAMIC_GUIDANCE, components,
                                         export_program, parity_inputs)
    from t2a_edge.convert.quantize import HELDOUT_PROMPTS, calibration_sets
    from t2a_edge.core.text import TextEncoder
    from t2a_edge.core.settings import FALLBACK_DEFAULTS

    backends = list(backends)
    precisions = [precisions] if isinstance(precisions, str) else list(precisions)
    for backend in backends:
        for precision in precisions:
            check_convertible(backend, precision)
            out = Path(out_for(backend, precision))
            refuse_to_replace(out, MANIFEST, "bundle", force)
    custom_text = text_encoder is not None
    text_encoder = text_encoder or TextEncoder.pretrained()
    parts = components(model, text_encoder)  # refuses a teacher model
    config = model.cfg
    lowerings = sorted({"fp16" if p == "fp16" else "fp32" for p in precisions})
    per_backend = 3 * (2 * len(lowerings) + ("int8" in precisions)) + (len(precisions) if check_end_to_end else 0)

    def mode(backend: str) -> tuple:  # backends with equal modes share their programs
        return BACKEND_MAX_BATCH[backend], ATTENTION_AS_MATMULS[backend], None if DYNAMIC_GUIDANCE[backend] else 2

    modes = sorted({mode(b) for b in backends}, key=repr)
    step = _Progress(progress, 3 * len(modes) + len(backends) * per_backend)
    torch.manual_seed(0)
    programs = {}
    for key in modes:
        for part in parts:
            step(f"export {part.name}" + (" (batch 1)" if key[0] == 1 else ""))
            programs[key, part.name] = export_program(part, config, *key)
    calibration = int8_checks = None
    if "int8" in precisions:
        named = {p.name: p for p in parts}
        # The inputs the model really sees: its measured guidance and temperature (4 steps, so
        # partly known inputs are covered as well as the all-masked first step).
        defaults = {**FALLBACK_DEFAULTS["student"], **(model_meta or {}).get("defaults", {})}
        guidance = {"cfg": float(defaults["cfg"]), "temperature": float(defaults["temperature"])}
        calibration = calibration_sets(named, config, **guidance)
        heldout = calibration_sets(named, config, seed=1, prompts=HELDOUT_PROMPTS, **guidance)
        int8_checks = {p.name: [(x, _ref(p, x)) for x in heldout[p.name]] for p in parts}
    checks = {p.name: [(x, _ref(p, x)) for x in parity_inputs(p, config)] for p in parts}
    reference_wave = None
    results = {}
    for backend in backends:
        max_batch = BACKEND_MAX_BATCH[backend]
        first = Path(out_for(backend, precisions[0]))
        work = _tmp_dir(first.with_name(first.name + "-work"))
        try:
            own = {p.name: programs[mode(backend), p.name] for p in parts}
            lowered = _lower_backend(backend, precisions, lowerings, parts, own, checks, calibration, int8_checks,
                                     config, work, step, max_batch)
            for precision in precisions:
                out = Path(out_for(backend, precision))
                tmp = _tmp_dir(out)
                try:
                    manifest = _assemble(lowered, precision, work, tmp)
                    manifest.update(_header(backend, precision, config, model, model_meta, custom_text, max_batch))
                    _write_manifest(tmp, manifest)
                    if check_end_to_end and can_run_here(backend):
                        step(f"{backend} {precision}: end-to-end check")
                        if reference_wave is None:
                            with torch.no_grad():
                                reference_wave = torch_reference(model, text_encoder)
                        manifest["parity"]["end_to_end"] = _end_to_end(backend, precision, tmp, reference_wave,
                                                                       config)
                        _write_manifest(tmp, manifest)
                    elif check_end_to_end:
                        step(f"{backend} {precision}: end-to-end check needs macOS")
                        manifest["parity"]["end_to_end"] = {"skipped": "CoreML predictions need macOS; structural "
                                                                       "checks passed"}
                        _write_manifest(tmp, manifest)
                    _place(tmp, out, force)
                except BaseException:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise
                results[backend, precision] = manifest
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return results


def _end_to_end(backend, precision, folder, reference_wave, config) -> dict:
    from t2a_edge.convert import quality

    runtime = runtime_class(backend)(folder)
    figures = quality.compare(bundle_waveform(runtime), reference_wave, config.codec.sample_rate,
                              use_judge=precision != "fp32")
    del runtime
    figures.update({"prompts": list(E2E_PROMPTS), **E2E_SETTINGS,
                    "seconds": min(E2E_SETTINGS["seconds"], config.max_seconds),
                    "reference": "torch fp32, same seed"})
    _gate_end_to_end(backend, precision, figures)
    return figures


def _ref(part, inputs):
    from t2a_edge.convert.export import reference

    return reference(part, inputs)


def _header(backend, precision, config, model, model_meta, custom_text, max_batch) -> dict:
    meta = dict(model_meta or {})
    return {
        "format": BUNDLE_FORMAT, "converter": CONVERTER_VERSION, "backend": backend, "precision": precision,
        "kind": "student",
        "config": config.to_dict(), "sample_rate": config.codec.sample_rate, "token_rate": config.token_rate,
        "token_samples": config.token_samples, "max_seconds": config.max_seconds,
        "max_tokens": config.max_tokens, "max_batch": max_batch,
        "text_encoder": "custom (tests)" if custom_text else "all-MiniLM-L6-v2",
        "model": {"sha": meta.get("sha"), "source": meta.get("source"), "defaults": meta.get("defaults", {})},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(backend),
    }


def _write_manifest(folder: Path, manifest: dict) -> None:
    import json

    from t2a_edge.core.audio import atomic_write_bytes

    ordered = {k: manifest[k] for k in ("format", "backend", "precision") if k in manifest}
    ordered.update(manifest)
    atomic_write_bytes(folder / MANIFEST, lambda tmp: Path(tmp).write_text(json.dumps(ordered, indent=2)))


def _gate_end_to_end(backend: str, precision: str, figures: dict) -> None:
    if precision == "fp32" and figures["snr_db"] < E2E_SNR_DB:
        raise T2AError(f"{backend} fp32 bundle drifts from torch: SNR {figures['snr_db']:.1f} dB < {E2E_SNR_DB} dB "
                       "on the same seed; not writing it")
    judge = figures.get("judge_cosine")
    if precision != "fp32" and judge is not None and judge < JUDGE_COSINE:
        raise T2AError(f"{backend} {precision} bundle sounds different from fp32: judge embedding cosine {judge:.3f} "
                       f"< {JUDGE_COSINE}; use --precision fp32")


def _lower_backend(backend, precisions, lowerings, parts, programs, checks, calibration, int8_checks, config,
                   work: Path, step, max_batch) -> dict:
    """Lower every component once per lowering precision, check it, and quantize if int8 is asked.

    checks: fixed random inputs for fp32/fp16 parity; int8_checks: real inputs of held-out prompts.

    Returns {component: {"fp32": entry, "fp16": entry, "int8": entry}} where an entry holds the
    files (relative to `work`), the method and the measurements.
    """
    from t2a_edge.convert.export import GUIDANCE_ROWS

    exporter = importlib.import_module(EXPORTERS[backend])
    runnable = can_run_here(backend)
    runtime = runtime_class(backend) if runnable else None
    result = {}
    for part in parts:
        spec = {"inputs": list(part.inputs), "outputs": list(part.outputs), "max_batch": max_batch}
        if "guidance" in part.inputs:
            spec["guidance_rows"] = list(GUIDANCE_ROWS)
        if backend == "coreml":
            spec["int32_inputs"] = exporter.int32_inputs(part)
        result[part.name] = {}
        for lowering in lowerings:
            step(f"{backend}: lower {part.name} ({lowering})")
            folder = work / lowering
            folder.mkdir(exist_ok=True)
            files = [f"{lowering}/{rel}" for rel in exporter.lower(part, programs[part.name], config, folder, lowering)]
            step(f"{backend}: check {part.name} ({lowering})")
            parity = _check_component(backend, part, exporter, runtime, work / files[0], spec, lowering, checks,
                                      config)
            result[part.name][lowering] = {"spec": spec, "files": files, "method": lowering, "parity": parity,
                                           "precision": lowering}
        if "int8" in precisions:
            step(f"{backend}: quantize {part.name}")
            fp32 = result[part.name]["fp32"]
            folder = work / "int8"
            folder.mkdir(exist_ok=True)
            candidates = exporter.quantize(part, programs[part.name], config, folder,
                                           str(Path("..") / fp32["files"][0]), calibration[part.name])
            candidates = {label: [f"int8/{rel}" for rel in rels] for label, rels in candidates.items()}
            label, record = _pick(part, runtime, fp32["files"], candidates, int8_checks, work, config, runnable,
                                  exporter, spec)
            if label is None:
                entry = dict(fp32, quantization=record)
            else:
                measured = record.get("candidates", {}).get(label, {})
                parity = ({"relative_error": None, "structural_check": measured["structural_check"],
                           "note": "CoreML predictions need macOS"} if "structural_check" in measured
                          else {"norm_error": measured.get("norm_error")})
                entry = {"spec": _candidate_spec(exporter, label, spec), "files": candidates[label], "method": label,
                         "precision": "int8",
                         "quantization": record, "parity": parity}
            result[part.name]["int8"] = entry
    return result


def _check_component(backend, part, exporter, runtime, path: Path, spec, lowering, checks, config) -> dict:
    """Parity of one lowered component against torch (or CoreML's structural check off macOS)."""
    from t2a_edge.convert.export import norm_error, relative_error

    if runtime is None:
        return {"relative_error": None, "structural_check": exporter.structural_check(path, part, config),
                "note": "CoreML predictions need macOS"}
    run = runtime.component_runner(path, part.name, spec, lowering)
    outputs = [(run(x), expected) for x, expected in checks[part.name]]
    error = max(relative_error(a, b) for a, b in outputs)
    typical = max(norm_error(a, b) for a, b in outputs)
    if lowering == "fp32" and not error <= FP32_TOLERANCE:
        raise T2AError(f"{backend} {part.name} differs from torch by {error:.2e} relative error "
                       f"(> {FP32_TOLERANCE:g}); not writing the bundle")
    if lowering == "fp16" and not typical <= FP16_TOLERANCE:
        raise T2AError(f"{backend} {part.name} in fp16 differs from torch by {typical:.2e} (||error|| / ||torch|| "
                       f"> {FP16_TOLERANCE:g}); use --precision fp32")
    return {"relative_error": error, "norm_error": typical,
            "inputs": "fixed random: batch 1 at full length, batch 2 short"}


def _assemble(lowered: dict, precision: str, work: Path, tmp: Path) -> dict:
    """Link (or copy) one precision's files into a bundle folder; returns the manifest's components."""
    components, parity = {}, {"component_tolerance": FP32_TOLERANCE, "components": {}}
    for name, variants in lowered.items():
        entry = variants[precision]
        files = {}
        for rel in entry["files"]:
            source = work / rel
            target = tmp / Path(rel).name
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                try:
                    os.link(source, target)
                except OSError:
                    shutil.copy2(source, target)
            files.update(hash_tree(tmp, target.name))
        item = dict(entry["spec"])
        item.update(file=Path(entry["files"][0]).name, files=files, precision=entry["precision"],
                    method=entry["method"], bytes=sum((tmp / f).stat().st_size for f in files))
        if "quantization" in entry:
            item["quantization"] = entry["quantization"]
        components[name] = item
        parity["components"][name] = entry["parity"]
    return {"components": components, "parity": parity}


def _candidate_spec(exporter, label: str, spec: dict) -> dict:
    """The manifest entry of a candidate: the exporter may add how to run it (OpenVINO's compute type)."""
    extra = getattr(exporter, "candidate_spec", None)
    return extra(label, spec) if extra else spec


def _pick(part, runtime, files, candidates, checks, tmp, config, runnable, exporter, spec):
    """Which int8 candidate (if any) to keep for one component."""
    from t2a_edge.convert.export import sample_inputs
    from t2a_edge.convert.quantize import choose

    if not runnable:
        # CoreML off macOS: nothing can be timed or heard. Weight-only int8 shrinks the weights about
        # 4x; keep it, except for the decoder: vocoders are the part known to lose quality to int8 first.
        label = next(iter(candidates))
        if part.name == "decoder":
            return None, {"reason": "kept fp32: CoreML cannot be timed or run on this OS, and vocoders are "
                                    "the part known to lose quality to int8 first",
                          "candidates": {label: {"not_used": "untimed"}}}
        structure = exporter.structural_check(tmp / candidates[label][0], part, config)
        return label, {"reason": f"{label}: weights stored int8 (4x smaller); not timed (CoreML runs only on "
                                 "macOS)", "candidates": {label: {"structural_check": structure}}}
    fp32_run = runtime.component_runner(tmp / files[0], part.name, spec, "fp32")
    runners, failed = {}, {}
    for label, rels in candidates.items():
        try:
            runners[label] = runtime.component_runner(tmp / rels[0], part.name, _candidate_spec(exporter, label, spec),
                                                      "int8")
        except T2AError as exc:  # a runtime that cannot load its own quantized graph: not a candidate
            failed[label] = str(exc)
    timing = sample_inputs(part.name, config, 1, config.max_tokens, seed=3)
    sizes = {label: sum(sum(p.stat().st_size for p in ([tmp / r] if (tmp / r).is_file() else (tmp / r).rglob("*"))
                            if p.is_file()) for r in rels) for label, rels in candidates.items()}
    label, record = choose(part, fp32_run, runners, timing, checks[part.name], sizes=sizes)
    for name, message in failed.items():
        record["candidates"][name] = {"failed": message[:300]}
        if label is None:
            record["reason"] += f"; {name}: the runtime cannot load it"
    return label, record
