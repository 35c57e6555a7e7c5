"""How an int8 candidate is chosen per component, and how OpenVINO is told to run it."""

import numpy as np
import pytest

from t2a_edge.convert import quantize
from t2a_edge.convert.export import Component


def _choose(monkeypatch, timings: dict, errors: dict, sizes: dict):
    """Run quantize.choose with given per-candidate times (ms), errors and sizes."""
    expected = np.ones(100)
    monkeypatch.setattr(quantize, "time_ms", lambda run, inputs, repeats=5: timings[run.label])

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

