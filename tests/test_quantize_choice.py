"""How an int8 candidate is chosen per component, and how OpenVINO is told to run it."""

import numpy as np
import pytest

from t2a_edge.convert import quantize
from t2a_edge.convert.export import Component


def _choose(monkeypatch, timings: dict, errors: dict, sizes: dict):
    """Run quantize.choose with given per-candidate times (ms), errors and sizes."""
    expected = np.ones(100)
    monkeypatch.setattr(quantize, "time_ms", lambda runs, inputs, repeats=7: {k: timings[r.label] for k, r in runs.items()})

    def runner(label):
        def run(inputs):
            return expected * (1 + errors.get(label, 0.0))
        run.label = label
        return run

    component = Component("step", None, (), (), {})
    candidates = {label: runner(label) for label in timings if label != "fp32"}
    return quantize.choose(component, runner("fp32"), candidates, {}, [({}, expected)], sizes=sizes)


def test_fastest_of_the_equally_small_candidates_is_kept(monkeypatch):
    label, record = _choose(monkeypatch, {"fp32": 30.0, "static": 12.0, "weights": 18.0},
                            {"static": 0.05, "weights": 0.01}, {"static": 10_500_000, "weights": 10_300_000})
    assert label == "static", record  # 2% larger on disk counts as the same size
    assert record["reason"].startswith("static: 2.50x faster")


def test_a_much_smaller_candidate_wins_over_a_faster_one(monkeypatch):
    label, _ = _choose(monkeypatch, {"fp32": 30.0, "int8": 12.0, "int8+emb4": 14.0},
                       {}, {"int8": 22_000_000, "int8+emb4": 17_000_000})
    assert label == "int8+emb4"


def test_too_inaccurate_or_slower_candidates_keep_fp32(monkeypatch):
    label, record = _choose(monkeypatch, {"fp32": 30.0, "static": 12.0, "weights": 31.0},
                            {"static": 0.5}, {"static": 1, "weights": 1})
    assert label is None
    assert record["reason"].startswith("kept fp32") and "error 0.5 > 0.1" in record["reason"]
    assert "only 0.97x the fp32 speed" in record["reason"]


def test_timing_interleaves_the_runs_so_a_drifting_machine_slows_them_alike():
    calls = []

    def runner(label):
        return lambda inputs: calls.append(label)

    times = quantize.time_ms({"fp32": runner("fp32"), "int8": runner("int8")}, {}, repeats=3)
    assert set(times) == {"fp32", "int8"} and all(t >= 0 for t in times.values())
    assert calls == ["fp32", "int8"] * 4  # one warm-up each, then alternating rounds


def test_int8_errors_are_measured_on_prompts_calibration_never_saw():
    assert not set(quantize.HELDOUT_PROMPTS) & set(quantize.CALIBRATION_PROMPTS)


def test_openvino_int8_components_run_in_the_compute_type_conversion_chose():
    pytest.importorskip("openvino")
    from t2a_edge.convert.openvino_export import candidate_spec
    from t2a_edge.runtimes.openvino_backend import compile_config

    assert candidate_spec("nncf-static-int8+bf16", {"inputs": []})["compute"] == "bf16"
    assert "compute" not in candidate_spec("nncf-static-int8", {"inputs": []})
    assert compile_config("int8", 2, (), "bf16")["INFERENCE_PRECISION_HINT"] == "bf16"
    assert compile_config("int8", 2, (), None)["INFERENCE_PRECISION_HINT"] == "f32"
    assert compile_config("fp32", 2, (), "bf16")["INFERENCE_PRECISION_HINT"] == "f32"  # fp32 stays the reference


def test_text_encoder_int8_error_counts_only_the_caption_tokens():
    rng = np.random.default_rng(0)
    expected = rng.standard_normal((2, 6, 4))
    mask = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0]])
    padding_only = expected.copy()
    padding_only[mask == 0] += 5.0  # states the step never reads
    assert quantize.component_error("text_encoder", {"mask": mask}, padding_only, expected) == 0.0
    assert quantize.component_error("step", {"mask": mask}, padding_only, expected) > 1.0
    caption = expected.copy()
    caption[0, 1] += 1.0
    assert quantize.component_error("text_encoder", {"mask": mask}, caption, expected) > 0.1



def test_calibration_runs_the_model_at_the_guidance_it_is_given(tiny_student):
    """int8 is judged at the model's own cfg: the step inputs carry that scale, K steps per prompt."""
    from t2a_edge.convert.export import components
    from t2a_edge.core.model import load_model
    from t2a_edge.core.text import TextEncoder

    model = load_model(tiny_student)
    parts = {p.name: p for p in components(model, TextEncoder(layers=1, heads=2, hidden=64).eval())}
    sets = quantize.calibration_sets(parts, model.cfg, steps=2, cfg=1.0, temperature=0.3, prompts=("a", "b"))
    assert len(sets["step"]) == 2 * 2 and len(sets["text_encoder"]) == 2 and len(sets["decoder"]) == 2
    # the rows generation runs, so int8 is timed on them: one row at cfg 1
    assert all(x["guidance"].tolist() == [1.0] and float(x["temperature"][0]) == np.float32(0.3)
               for x in sets["step"])
    guided = quantize.calibration_sets(parts, model.cfg, steps=2, cfg=4.0, prompts=("a",))
    assert max(float(x["guidance"][0]) for x in guided["step"]) == 4.0  # the last step gets the full scale
    assert all(float(x["guidance"].sum()) == 1.0 for x in guided["step"])


def test_onnx_dynamic_int8_keeps_the_steps_raw_input_projections_fp32(tmp_path):
    """MiniLM states, tokens, the head's noise and the head's view of the backbone state enter through
    fp32 matmuls; the rest is int8."""
    pytest.importorskip("onnxruntime")
    import onnx

    from t2a_edge.convert.export import components, export_program, input_projection_shapes, random_student
    from t2a_edge.convert.onnx_export import export_onnx
    from t2a_edge.convert.onnx_export import quantize as ort_quantize
    from t2a_edge.core.config import preset
    from t2a_edge.core.text import TextEncoder

    config = preset("tiny")
    model = random_student(config, seed=0)
    step = next(p for p in components(model, TextEncoder(layers=1, heads=2, hidden=64).eval()) if p.name == "step")
    program = export_program(step, config)
    export_onnx(step, program, tmp_path / "step.onnx")
    files = ort_quantize(step, program, config, tmp_path, "step.onnx", None)
    graph = onnx.load(str(tmp_path / files["ort-dynamic-int8"][0])).graph
    fp32_weights = {tuple(i.dims) for i in graph.initializer
                    if i.data_type == onnx.TensorProto.FLOAT and len(i.dims) == 2}
    assert input_projection_shapes(config) <= fp32_weights
    assert (config.head.noise_dim, config.head.width) in input_projection_shapes(config)
    assert (config.backbone.width, config.head.width) in input_projection_shapes(config)
    assert any(n.op_type == "MatMulInteger" for n in graph.node)
