"""`t2a-edge train export`: fp16 storage, recorded defaults, a model card, sha256-checked on load."""

import json
import subprocess
import sys

import numpy as np
import pytest

from t2a_edge import TextToAudio


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "t2a_edge.apps.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=600)


def test_export_half_with_defaults_and_card(tiny_student, tmp_path):
    card = tmp_path / "card.md"
    card.write_text("# tiny student\n")
    out = tmp_path / "shipped"
    done = run_cli("train", "export", tiny_student, out, "--half", "--steps", "3", "--cfg", "2.5", "--temperature", "0.6",
                   "--seconds", "1.5", "--spread", "0.8", "--smooth", "50", "--card", card)
    assert done.returncode == 0, done.stderr
    assert "float16" in done.stdout and "steps=3" in done.stdout
    meta = json.loads((out / "model.json").read_text())
    assert meta["defaults"] == {"steps": 3, "cfg": 2.5, "temperature": 0.6, "seconds": 1.5, "spread": 0.8,
                                "smooth": 50.0}
    assert meta["kind"] == "student" and (out / "MODEL_CARD.md").read_text() == "# tiny student\n"
    half = sum(p.stat().st_size for p in out.glob("*.safetensors"))
    full = sum(p.stat().st_size for p in tiny_student.glob("*.safetensors"))
    assert half < 0.55 * full

    shipped, original = TextToAudio.load(out, backend="torch"), TextToAudio.load(tiny_student, backend="torch")
    assert {k: shipped.defaults[k] for k in meta["defaults"]} == meta["defaults"]
    a = shipped.generate("a dog barking", seed=3).samples
    b = original.generate("a dog barking", seed=3, steps=3, cfg=2.5, temperature=0.6, seconds=1.5,
                          spread=0.8, smooth=50).samples
    assert len(a) == len(b) == 24000
    # fp16 storage rounds the weights only: the same seed gives nearly the same waveform
    assert np.corrcoef(a, b)[0, 1] > 0.95


def test_export_refuses_to_overwrite_and_checks_hashes(tiny_student, tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    done = run_cli("train", "export", tiny_student, out)
    assert done.returncode == 2 and "already exists: pass --force" in done.stderr and "Traceback" not in done.stderr
    # --force replaces a model folder, never a folder of the user's own named by mistake
    done = run_cli("train", "export", tiny_student, out, "--force")
    assert done.returncode == 2 and "is not a t2a-edge model folder" in done.stderr, done.stderr
    assert (out / "keep.txt").read_text() == "user data"
    out = tmp_path / "model"
    assert run_cli("train", "export", tiny_student, out).returncode == 0
    assert run_cli("train", "export", tiny_student, out).returncode == 2
    assert run_cli("train", "export", tiny_student, out, "--force").returncode == 0
    shard = sorted(out.glob("*.safetensors"))[0]
    data = bytearray(shard.read_bytes())
    data[-1] ^= 1
    shard.write_bytes(bytes(data))
    with pytest.raises(Exception, match="sha256 mismatch"):
        TextToAudio.load(out, backend="torch")
    for flag, value, message in (("--steps", "0", "steps must be a whole number >= 1"),
                                 ("--spread", "0", "spread must be > 0"),
                                 ("--seconds", "99", "seconds must be at most 2 for this model")):
        bad = run_cli("train", "export", tiny_student, tmp_path / "x", flag, value)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and message in bad.stderr, bad.stderr
    assert not (tmp_path / "x").exists()
