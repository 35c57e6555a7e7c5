"""The shipped default model: installed with the package, verified on load, used by a bare `generate`."""

import json
import os
import subprocess
import sys

import numpy as np

from t2a_edge import TextToAudio
from t2a_edge.core.paths import default_model_dir

MAX_FILE_BYTES = 25 * 1024 * 1024


def test_default_model_files_are_small_hashed_and_carded():
    folder = default_model_dir()
    meta = json.loads((folder / "model.json").read_text())
    assert meta["kind"] == "student"
    assert set(meta["defaults"]) >= {"steps", "cfg", "temperature", "seconds"}
    for path in folder.iterdir():
        assert path.stat().st_size < MAX_FILE_BYTES, path
    assert sorted(p.name for p in folder.glob("*.safetensors")) == sorted(meta["files"])
    # The card's content is checked for real in tests/test_shipped_model.py (its data table and commands).
    assert (folder / "MODEL_CARD.md").is_file()


def test_bare_generate_uses_the_default_and_says_which_settings(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-m", "t2a_edge.apps.cli", "generate", "dog barking",
                           "--backend", "torch"], cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    meta = json.loads((default_model_dir() / "model.json").read_text())
    used = done.stdout.split("model defaults used: ")[1].splitlines()[0]
    assert {part.split("=")[0] for part in used.split(", ")} == set(meta["defaults"])  # every one it recorded
    import soundfile as sf

    audio, rate = sf.read(tmp_path / "dog_barking.wav")
    assert rate == 16000 and len(audio) == round(meta["defaults"]["seconds"] * 16000)
    assert np.abs(audio).max() > 1e-3  # not silence


def test_default_model_is_refused_when_tampered(tmp_path):
    import shutil

    import pytest

    from t2a_edge.core.errors import T2AError

    copy = tmp_path / "m"
    shutil.copytree(default_model_dir(), copy)
    shard = sorted(copy.glob("*.safetensors"))[-1]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x10
    shard.write_bytes(bytes(data))
    with pytest.raises(T2AError, match="sha256 mismatch"):
        TextToAudio.load(copy, backend="torch")
