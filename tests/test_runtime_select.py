"""Backend selection: auto and its reasons, one-line refusals, bundles converted once and cached."""

from __future__ import annotations

import platform

import numpy as np
import pytest
import torch

from t2a_edge.convert import quality
from t2a_edge.core.errors import T2AError
from t2a_edge.core.model import save_model
from t2a_edge.core.text import TextEncoder
from t2a_edge.runtimes import select


def stand_in_text_encoder() -> TextEncoder:
    torch.manual_seed(1)
    return TextEncoder(layers=1, heads=2, hidden=64).eval()


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    from t2a_edge.core.config import preset
    from t2a_edge.core.model import T2AModel

    folder = tmp_path_factory.mktemp("teacher")
    save_model(T2AModel(preset("tiny"), diffusion_head=True, energy_head=False), folder)
    return folder


@pytest.fixture
def no_gpu_linux(monkeypatch):
    monkeypatch.setattr(select, "cuda_available", lambda: False)
    monkeypatch.setattr(platform, "system", lambda: "Linux")


def one_line(exc) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_unknown_names_list_the_choices(student_dir, cache):
    with pytest.raises(T2AError) as err:
        select.load_backend(student_dir, "tpu")
    assert "onnx" in one_line(err) and "executorch" in str(err.value)
    with pytest.raises(T2AError, match="fp32, fp16, int8"):
        select.load_backend(student_dir, "onnx", "int4")


@pytest.mark.skipif(platform.system() == "Darwin", reason="checks the refusal off macOS")
def test_coreml_off_macos_names_reason_and_alternatives(student_dir, cache):
    with pytest.raises(T2AError) as err:
        select.load_backend(student_dir, "coreml")
    message = one_line(err)
    assert "macOS" in message and "available:" in message and "onnx" in message
    assert not cache.exists() or not list(cache.rglob("manifest.json"))  # nothing converted for nothing


def test_cuda_without_gpu_names_alternatives(student_dir, cache, monkeypatch):
    monkeypatch.setattr(select, "cuda_available", lambda: False)
    with pytest.raises(T2AError) as err:
        select.load_backend(student_dir, "cuda")
    message = one_line(err)
    assert "no CUDA GPU" in message and "torch" in message


def test_missing_runtime_package_is_one_line(student_dir, cache, monkeypatch):
    real = select._installed
    monkeypatch.setattr(select, "_installed", lambda name: name != "openvino" and real(name))
    with pytest.raises(T2AError) as err:
        select.load_backend(student_dir, "openvino")
    message = one_line(err)
    assert "openvino is not installed" in message and "pip install" in message and "onnx" in message


def test_torch_rules(student_dir, teacher_dir, cache):
    with pytest.raises(T2AError, match="fp32 only"):
        select.load_backend(student_dir, "torch", "int8")
    runtime, meta, why = select.load_backend(student_dir, "torch")
    assert runtime.name == "torch" and meta["defaults"]["steps"] == 2 and why == "asked for torch"
    with pytest.raises(T2AError) as err:
        select.load_backend(teacher_dir, "onnx")
    assert "student" in one_line(err) and "--backend torch" in str(err.value)


def test_auto_order_bench_record_and_teacher(cache, no_gpu_linux, monkeypatch):
    name, why = select.choose_auto("student", "fp32")
    assert name == "openvino" and "default order" in why
    select.record_fastest({"fp32": {"backend": "executorch", "rtf": 0.021, "measured": "2026-01-01 10:00"}})
    name, why = select.choose_auto("student", "fp32")
    assert name == "executorch" and "fastest" in why and "bench" in why and "0.021" in why
    # A run that did not time the recorded winner leaves it; one that did (and beat it) replaces it.
    _, notes = select.record_fastest({"fp32": {"backend": "onnx", "rtf": 0.015, "compared": ["onnx", "torch"]}})
    assert select.choose_auto("student", "fp32")[0] == "executorch" and "executorch" in notes[0]
    _, notes = select.record_fastest({"fp32": {"backend": "onnx", "rtf": 0.015,
                                               "compared": ["executorch", "onnx"]}})
    assert select.choose_auto("student", "fp32")[0] == "onnx" and notes == []
    select.record_fastest({"fp32": {"backend": "executorch", "rtf": 0.021}})
    # A record for fp32 says nothing about int8; torch is never picked for int8.
    name, why = select.choose_auto("student", "int8")
    assert name == "openvino" and "default order" in why
    # A recorded backend that is no longer installed is passed over, and so is the default's first.
    real = select._installed
    monkeypatch.setattr(select, "_installed", lambda n: n not in ("executorch", "openvino") and real(n))
    assert select.choose_auto("student", "fp32")[0] == "onnx"
    name, why = select.choose_auto("teacher", "fp32")
    assert name == "torch" and why == "auto: teacher models run on torch only (CPU, no CUDA GPU)"


def test_auto_prefers_cuda_then_coreml(cache, monkeypatch):
    monkeypatch.setattr(select, "cuda_available", lambda: True)
    name, why = select.choose_auto("student", "fp32")
    assert name == "cuda" and "CUDA" in why
    monkeypatch.setattr(select, "cuda_available", lambda: False)
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    name, why = select.choose_auto("student", "fp32")
    assert name == "coreml" and "macOS" in why


def test_convert_on_first_use_then_cache_and_bundle_paths(student_dir, cache, no_gpu_linux, monkeypatch):
    """auto runs on torch until a bundle is converted; onnx converts once into the cache on request,
    then auto loads the cached bundle."""
    from t2a_edge import TextToAudio
    from t2a_edge.runtimes.torch_backend import TorchBackend

    encoder = stand_in_text_encoder()
    monkeypatch.setattr(TextEncoder, "pretrained", classmethod(lambda cls, folder=None: encoder))
    real = select._installed  # without OpenVINO, ONNX Runtime is the first of the default order
    monkeypatch.setattr(select, "_installed", lambda n: n != "openvino" and real(n))
    first = TextToAudio.load(student_dir)
    assert first.backend.name == "torch" and "`t2a-edge convert` makes the onnx bundles" in first.why
    tta = TextToAudio.load(student_dir, backend="onnx")
    assert tta.backend.name == "onnx" and tta.backend.precision == "fp32"
    assert "asked for onnx" in tta.why and "converted now" in tta.why
    bundle = select.cached_bundle_dir(student_dir, "onnx", "fp32")
    assert (bundle / "manifest.json").is_file() and str(cache) in str(bundle)
    again = TextToAudio.load(student_dir)
    assert again.backend.name == "onnx" and "from the cache" in again.why and "quality check passed" in again.why
    assert again.defaults["steps"] == 2  # the model's measured defaults travel in the manifest
    clip = again.generate("a dog barks", seconds=0.9, seed=4, steps=2)
    assert clip.samples.shape == (int(0.9 * 16000),) and clip.info["backend"] == "onnx"
    from t2a_edge.core.model import load_model

    reference = TextToAudio(TorchBackend(load_model(student_dir), "cpu", encoder), again.defaults, "torch")
    expected = reference.generate("a dog barks", seconds=0.9, seed=4, steps=2)
    assert quality.snr_db(clip.samples, expected.samples) >= 30.0
    # The bundle folder itself loads on its own backend; other backends or precisions are refused.
    direct = TextToAudio.load(bundle)
    assert direct.backend.name == "onnx" and "bundle" in direct.why
    np.testing.assert_allclose(direct.generate("a dog barks", seconds=0.9, seed=4, steps=2).samples, clip.samples,
                               atol=1e-6)
    with pytest.raises(T2AError, match="bundle for onnx and runs on onnx"):
        TextToAudio.load(bundle, backend="openvino")
    with pytest.raises(T2AError, match="an fp32 bundle, not int8"):
        TextToAudio.load(bundle, precision="int8")
    # A cached bundle from another converter version is not reused (it would be converted again).
    import json

    manifest = json.loads((bundle / "manifest.json").read_text())
    assert select._current(bundle)
    (bundle / "manifest.json").write_text(json.dumps(dict(manifest, converter=manifest["converter"] - 1)))
    assert not select._current(bundle)


def test_onnx_sessions_do_not_spin_between_components():
    """Three sessions share two cores: a pool spinning after its run slowed the next one 2x."""
    from t2a_edge.runtimes.onnx_backend import session_options

    options = session_options(2)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == 2
