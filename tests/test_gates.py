"""The README's conversion gates, each made to fire: a broken component stops `convert` in one line.

The figures are the README's, written here as literals: a constant loosened in the code under test
must not loosen these tests with it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from t2a_edge.convert import bundle, quality
from t2a_edge.convert.export import random_student
from t2a_edge.core.bundle import is_bundle, read_manifest
from t2a_edge.core.model import save_model
from t2a_edge.core.text import TextEncoder

# The README's Parity paragraph.
README_FP32_TOLERANCE = 1e-4  # each fp32 component within 1e-4 relative error of torch
README_E2E_SNR_DB = 30.0  # an fp32 bundle's waveform against torch fp32, same seed
README_JUDGE_COSINE = 0.9  # an int8 bundle keeps the judge's embedding cosine >= 0.9
# Per-component int8 limits (||int8 - torch|| / ||torch||, convert/quantize.py as reviewed in issue 46).
ERROR_LIMITS = {"text_encoder": 0.2, "step": 0.1, "decoder": 0.1}


def test_the_codes_thresholds_are_no_looser_than_the_readme():
    assert bundle.FP32_TOLERANCE <= README_FP32_TOLERANCE
    assert bundle.E2E_SNR_DB >= README_E2E_SNR_DB
    assert bundle.JUDGE_COSINE >= README_JUDGE_COSINE
    from t2a_edge.convert import quantize

    assert all(quantize.ERROR_LIMITS[name] <= limit for name, limit in ERROR_LIMITS.items())
    assert quantize.MIN_SPEEDUP >= 1.0  # int8 is kept only if faster than fp32


def error_lines(err: str) -> list[str]:
    assert "Traceback" not in err, err
    return [line for line in err.strip().splitlines() if line.startswith("error:")]


@pytest.fixture
def student(tmp_path, monkeypatch):
    """A tiny random student folder, converted with a one-layer stand-in text encoder, into a fresh cache."""
    monkeypatch.setenv("T2A_EDGE_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "student"
    save_model(random_student("tiny", seed=4), folder)
    torch.manual_seed(1)
    encoder = TextEncoder(layers=1, heads=2, hidden=64).eval()
    monkeypatch.setattr(TextEncoder, "pretrained", classmethod(lambda cls, folder=None: encoder))
    return folder


def test_a_component_that_drifts_from_torch_stops_convert_in_one_line(student, tmp_path, monkeypatch, cli):
    """The text encoder's graph is exported from weights 0.2% off the model's: its output misses torch
    by far more than 1e-4 relative error, and conversion must say so and write nothing."""
    from t2a_edge.convert import export

    original = export.export_program

    def drifting(component, *args, **kwargs):
        if component.name == "text_encoder":
            module = __import__("copy").deepcopy(component.module)
            with torch.no_grad():
                for p in module.parameters():
                    p.mul_(1.002)
            component = dataclasses.replace(component, module=module)
        return original(component, *args, **kwargs)

    monkeypatch.setattr(export, "export_program", drifting)
    out = tmp_path / "bundles" / "onnx-fp32"
    code, _, err = cli(["convert", "--model", str(student), "--backend", "onnx", "--precision", "fp32",
                        "--out", str(out)])
    lines = error_lines(err)
    assert code == 2 and len(lines) == 1, err
    assert "onnx text_encoder differs from torch" in lines[0] and "not writing the bundle" in lines[0], lines
    # the error it measured is well past the tolerance (so the 1e-4 gate, not the 30 dB one, fired)
    measured = float(lines[0].split("differs from torch by ")[1].split()[0])
    assert measured > 10 * README_FP32_TOLERANCE
    assert not out.exists() and not list((tmp_path / "bundles").iterdir())  # no bundle, no leftovers


def _lose_the_top_of_the_spectrum(monkeypatch):
    """Every ONNX Runtime bundle's decoder keeps only the lowest 1/16 of the STFT bins (a muffled
    vocoder). Conversion's per-component checks call component runners, not this method, so only the
    end-to-end check hears it, which is where the judge gate sits."""
    from t2a_edge.runtimes.onnx_backend import OnnxBackend

    decode = OnnxBackend.decode

    def muffled(self, tokens):
        magnitude = decode(self, tokens).copy()
        magnitude[:, magnitude.shape[1] // 16:, :] = 0.0
        return magnitude

    monkeypatch.setattr(OnnxBackend, "decode", muffled)


def test_int8_bundle_is_judged_and_kept_when_it_sounds_like_torch(student, cache_root, tmp_path, monkeypatch, cli):
    """With the judge installed (the cache holds it), an int8 conversion records a real judge cosine,
    and every component kept at int8 is recorded faster than its fp32 graph and within its error limit."""
    monkeypatch.setenv("T2A_EDGE_CACHE", str(cache_root))
    assert quality.judge_available()
    out = tmp_path / "onnx-int8"
    code, printed, err = cli(["convert", "--model", str(student), "--backend", "onnx", "--precision", "int8",
                              "--out", str(out)])
    assert code == 0, err
    manifest = read_manifest(out)
    e2e = manifest["parity"]["end_to_end"]
    assert isinstance(e2e["judge_cosine"], float), e2e  # the gate ran, it was not skipped
    assert README_JUDGE_COSINE <= e2e["judge_cosine"] <= 1.0 + 1e-9, e2e
    for name, comp in manifest["components"].items():
        record = comp["quantization"]
        if comp["precision"] == "int8":
            figures = record["candidates"][comp["method"]]
            assert figures["ms"] < record["fp32_ms"] and figures["speedup"] > 1.0, (name, record)
            assert figures["norm_error"] <= ERROR_LIMITS[name], (name, figures)
            assert manifest["parity"]["components"][name]["norm_error"] == figures["norm_error"]
        else:  # kept fp32: every candidate measured slower or too far from torch
            for label, figures in record["candidates"].items():
                assert "failed" in figures or figures["ms"] >= record["fp32_ms"] \
                    or figures["norm_error"] > ERROR_LIMITS[name], (name, label, record)
    assert f"judge embedding cosine {e2e['judge_cosine']:.4f}" in printed


def test_int8_bundle_that_sounds_different_stops_convert_in_one_line(student, cache_root, tmp_path, monkeypatch,
                                                                       cli):
    monkeypatch.setenv("T2A_EDGE_CACHE", str(cache_root))
    _lose_the_top_of_the_spectrum(monkeypatch)
    out = tmp_path / "bundles" / "onnx-int8"
    code, _, err = cli(["convert", "--model", str(student), "--backend", "onnx", "--precision", "int8",
                        "--out", str(out)])
    lines = error_lines(err)
    assert code == 2 and len(lines) == 1, err
    assert "onnx int8 bundle sounds different from fp32: judge embedding cosine" in lines[0], lines
    cosine = float(lines[0].split("judge embedding cosine ")[1].split()[0])
    assert cosine < README_JUDGE_COSINE
    assert not out.exists() and not list((tmp_path / "bundles").iterdir())


def test_an_fp32_bundle_off_by_more_than_30_db_is_not_written(tmp_path):
    """The end-to-end gate itself, on waveforms either side of the README's 30 dB: 28 dB is refused, 32 passes."""
    from t2a_edge.core.errors import T2AError

    rng = np.random.default_rng(0)
    reference = rng.standard_normal((2, 16000)).astype(np.float32)
    close = reference + 0.025 * rng.standard_normal(reference.shape).astype(np.float32)
    far = reference + 0.04 * rng.standard_normal(reference.shape).astype(np.float32)
    passing, failing = (quality.compare(x, reference, use_judge=False) for x in (close, far))
    assert 31.5 < passing["snr_db"] < 32.5 and 27.5 < failing["snr_db"] < 28.5, (passing, failing)
    bundle._gate_end_to_end("onnx", "fp32", passing)
    with pytest.raises(T2AError, match=r"drifts from torch: SNR 2[78]\.\d dB < 30(\.0)? dB .*not writing it"):
        bundle._gate_end_to_end("onnx", "fp32", failing)


def test_temperature_scales_the_energy_heads_shifts():
    """Temperature multiplies every AdaLN shift of the energy head (the README's --temperature T): 1.0 is
    the default, other values change the token, 0 removes the noise-driven shifts entirely."""
    from t2a_edge.core.config import preset
    from t2a_edge.core.heads import EnergyHead

    cfg = preset("tiny")
    torch.manual_seed(0)
    head = EnergyHead(cfg.token_dim, cfg.backbone.width, 32, 2, 16).eval()
    with torch.no_grad():
        for module in head.modules():
            if isinstance(module, torch.nn.Linear):
                torch.nn.init.normal_(module.weight, std=0.3)
                torch.nn.init.normal_(module.bias, std=0.3)
    z = torch.randn(2, 5, cfg.backbone.width)
    noise = torch.rand(2, 5, 16) - 0.5

    def by_hand(t: float) -> torch.Tensor:
        c = head.noise_embed(noise)
        h = head.cond_proj(z)
        for block in head.blocks:
            shift, scale, gate = block.modulation(c).chunk(3, dim=-1)
            h = h + gate * block.mlp(block.norm(h) * (1 + scale) + t * shift)
        shift, scale = head.final.modulation(c).chunk(2, dim=-1)
        return head.final.linear(head.final.norm(h) * (1 + scale) + t * shift)

    with torch.no_grad():
        default = head(z, noise)
        assert torch.equal(head(z, noise, 1.0), default)
        for t in (0.0, 0.5, 1.0, 1.7):
            out = head(z, noise, t)
            assert torch.allclose(out, by_hand(t), atol=1e-5), t
            assert torch.allclose(head(z, noise, torch.tensor([t])), out, atol=1e-6), t  # as the bundles pass it
        cooler = head(z, noise, 0.5)
        assert (cooler - default).abs().max() > 0.05 * default.abs().max()


def test_temperature_reaches_the_generated_audio(tmp_path):
    """Through TextToAudio, the same seed at temperature 0.5 gives other audio than at 1.0, and the
    model's default temperature is what an unset temperature uses."""
    from t2a_edge import TextToAudio

    save_model(random_student("tiny", seed=2), tmp_path / "student")  # its head's modulations are not zero
    tta = TextToAudio.load(tmp_path / "student", backend="torch")
    settings = dict(seconds=0.8, seed=3, steps=2)
    default = tta.generate("a dog barks", **settings).samples
    same = tta.generate("a dog barks", temperature=tta.defaults["temperature"], **settings).samples
    assert np.array_equal(default, same)
    one = tta.generate("a dog barks", temperature=1.0, **settings).samples
    half = tta.generate("a dog barks", temperature=0.5, **settings).samples
    assert quality.snr_db(half, one) < 40.0  # not a rounding difference: other tokens
