"""`t2a-edge convert`: writes a verified bundle where generate finds it; refuses mistakes in one line."""

from __future__ import annotations

import json

import pytest
import torch

from t2a_edge.convert.export import random_student
from t2a_edge.core.bundle import read_manifest, verify_bundle
from t2a_edge.core.model import save_model
from t2a_edge.core.text import TextEncoder
from t2a_edge.runtimes import select


def error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("T2A_EDGE_CACHE", str(tmp_path / "cache"))
    student = tmp_path / "student"
    save_model(random_student("tiny", seed=4), student)
    torch.manual_seed(1)
    encoder = TextEncoder(layers=1, heads=2, hidden=64).eval()
    monkeypatch.setattr(TextEncoder, "pretrained", classmethod(lambda cls, folder=None: encoder))
    return tmp_path, student


def test_convert_into_the_cache_that_generate_reads(env, cli):
    tmp_path, student = env
    code, out, err = cli(["convert", "--model", str(student), "--backend", "onnx", "--precision", "fp32",
                          "--json"])
    assert code == 0, err
    cached = select.cached_bundle_dir(student, "onnx", "fp32")
    assert f"wrote {cached}" in err and "rel. error vs torch" in err and "SNR" in err  # --json: text on stderr
    assert json.loads(out)["onnx-fp32"]["path"] == str(cached)
    manifest = verify_bundle(cached)
    assert manifest["model"]["source"] == str(student.resolve()) and read_manifest(cached)["backend"] == "onnx"
    # A second run finds it and does nothing; generate's loader uses it without converting.
    code, out, _ = cli(["convert", "--model", str(student), "--backend", "onnx"])
    assert code == 0 and "already converted" in out
    _, _, why = select.load_backend(student, "onnx")
    assert "from the cache" in why
    # An existing --out folder is only replaced with --force, and only if it is a bundle.
    target = tmp_path / "exported"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    code, _, err = cli(["convert", "--model", str(student), "--backend", "onnx", "--out", str(target)])
    assert code == 2 and "--force" in error_line(err)
    code, _, err = cli(["convert", "--model", str(student), "--backend", "onnx", "--out", str(target), "--force"])
    assert code == 2 and "is not a t2a-edge bundle" in error_line(err)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_convert_refuses_mistakes(env, cli):
    tmp_path, student = env
    from t2a_edge.core.config import preset
    from t2a_edge.core.model import T2AModel

    teacher = tmp_path / "teacher"
    save_model(T2AModel(preset("tiny"), diffusion_head=True, energy_head=False), teacher)
    code, _, err = cli(["convert", "--model", str(teacher), "--backend", "onnx"])
    assert code == 2 and "student" in error_line(err) and "teacher" in error_line(err)
    code, _, err = cli(["convert", "--model", str(tmp_path / "nothing"), "--backend", "onnx"])
    assert code == 2 and "does not exist" in error_line(err)
    code, _, err = cli(["convert", "--model", str(student), "--backend", "tpu"])
    assert code == 2 and "'tpu' is not one of" in error_line(err) and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "cache" / "bundles").exists()
