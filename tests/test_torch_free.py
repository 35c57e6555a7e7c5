"""`generate` on ONNX Runtime and OpenVINO never imports torch (README): a model folder, not a bundle
folder, resolved through the bundle cache in a process where importing torch fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from t2a_edge.convert.export import random_student
from t2a_edge.core.model import save_model
from t2a_edge.core.text import TextEncoder

# `import torch` raises ImportError in this process (None in sys.modules), whoever asks for it.
NO_TORCH = (
    "import sys\n"
    "sys.modules['torch'] = None\n"
    "from t2a_edge.apps.cli import main\n"
    "main(sys.argv[1:])\n"
)


def generate_without_torch(args, cache, cwd):
    return subprocess.run([sys.executable, "-c", NO_TORCH, "generate", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={**os.environ, "T2A_EDGE_CACHE": str(cache),
                                                     "T2A_EDGE_THREADS": "1"})


@pytest.fixture
def student(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("T2A_EDGE_CACHE", str(cache))
    folder = tmp_path / "student"
    save_model(random_student("tiny", seed=5), folder)
    torch.manual_seed(1)
    encoder = TextEncoder(layers=1, heads=2, hidden=64).eval()
    monkeypatch.setattr(TextEncoder, "pretrained", classmethod(lambda cls, folder=None: encoder))
    return folder, cache


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_generate_from_a_model_folder_through_the_cache_without_torch(student, backend, tmp_path):
    from t2a_edge import TextToAudio
    from t2a_edge.convert import quality
    from t2a_edge.runtimes import select

    folder, cache = student
    args = ["a dog barks", "--model", str(folder), "--backend", backend, "--seconds", "1", "--seed", "2", "--json"]
    # Not converted yet: converting needs torch, so the torch-free process refuses in one line.
    missing = generate_without_torch([*args, "-o", "first.wav"], cache, tmp_path)
    assert missing.returncode == 2, missing.stderr
    assert missing.stderr.strip().splitlines() == [missing.stderr.strip()]
    assert missing.stderr.startswith(f"error: converting to {backend} needs torch")
    assert not (tmp_path / "first.wav").exists()

    bundle, converted = select.ensure_bundle(folder, backend, "fp32", progress=False)  # here torch may run
    assert converted and bundle.parent.parent == cache / "bundles"
    done = generate_without_torch([*args, "-o", "dog.wav"], cache, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert record["backend"] == backend
    assert "bundle from the cache" in done.stdout + done.stderr
    audio, rate = sf.read(tmp_path / "dog.wav", dtype="float32")
    assert rate == 16000 and audio.shape == (16000,)
    # The same seed through torch in this process: the same clip within the README's 30 dB.
    expected = TextToAudio.load(folder, backend="torch").generate("a dog barks", seconds=1.0, seed=2).samples
    assert np.abs(expected).max() > 1e-3
    assert quality.snr_db(audio, expected) >= 30.0
