"""`t2a-edge eval` and the `lab` probes refuse missing or bad inputs with one `error:` line and exit status 2
(no judge needed)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """One real clip in a manifest, and a folder of generated files that match no clip id."""
    root = tmp_path_factory.mktemp("corpus")
    sf.write(root / "a.wav", np.zeros(16000, np.float32), 16000)
    row = {"id": "a", "audio": "a.wav", "captions": ["quiet"], "category": "silence", "split": "test", "duration": 1.0}
    (root / "manifest.jsonl").write_text(json.dumps(row) + "\n")
    gone = dict(row, id="b", audio="gone.wav")
    (root / "broken.jsonl").write_text(json.dumps(gone) + "\n")
    (root / "gen").mkdir()
    sf.write(root / "gen" / "other.wav", np.zeros(16000, np.float32), 16000)
    return root


CASES = [
    (["eval"], "give --model PATH|default to generate, or --generated DIR"),
    (["eval", "--model", "default", "--generated", "gen"], "either --model or --generated"),
    (["eval", "--generated", "nowhere", "--data", "manifest.jsonl"], "--generated folder nowhere does not exist"),
    (["eval", "--generated", "gen", "--data", "missing.jsonl"], "no corpus manifest at missing.jsonl"),
    (["eval", "--generated", "gen", "--data", "manifest.jsonl"], "no file in gen is named after a clip id"),
    (["eval", "--generated", "gen", "--data", "manifest.jsonl", "--split", "train"], "no clips in split 'train'"),
    (["eval", "--generated", "gen", "--data", "broken.jsonl"], "reference clip(s) of the manifest are missing"),
    (["eval", "--generated", "gen", "--data", "manifest.jsonl", "--limit", "0"], "--limit must be at least 1"),
    (["eval", "--generated", "gen", "--data", "manifest.jsonl", "--json", "no/dir/x.json"], "folder no/dir does not exist"),
    (["eval", "--model", "default", "--data", "manifest.jsonl", "--seconds", "0"], "--seconds must be positive"),
    (["eval", "--model", "default", "--data", "manifest.jsonl", "--spread", "0"], "--spread must be > 0"),
    (["eval", "--model", "default", "--data", "manifest.jsonl", "--smooth", "-1"], "--smooth must be >= 0 ms"),
    (["eval", "compare", "student:K=1,smooth=-5", "--data", "manifest.jsonl"], "smooth must be >= 0 ms"),
    (["eval", "compare", "studnet:K=8", "--data", "manifest.jsonl"], "start with 'teacher' or 'student'"),
    (["eval", "compare", "student:S=8", "--data", "manifest.jsonl"], "applies to the teacher only"),
    (["lab", "real", "--data", "missing.jsonl"], "no corpus manifest"),
    (["lab", "phase", "--iterations", "4,x", "--data", "manifest.jsonl"], "--iterations takes whole numbers"),
    (["lab", "phase", "--iterations", "-1", "--data", "manifest.jsonl"], "--iterations must list values >= 0"),
    (["lab", "phase", "--momentum", "0.9,fast", "--data", "manifest.jsonl"], "--momentum takes numbers separated"),
    (["lab", "phase", "--momentum", "nan", "--data", "manifest.jsonl"], "--momentum must list values >= 0"),
    (["eval", "--generated", "gen", "--data", "manifest.jsonl", "--steps", "many"], "not a valid integer"),
    (["eval", "--generated", "gen", "--data", "manifest.jsonl", "--json", "a.wav"], "--json a.wav already exists: pass --force"),
    (["eval", "--generated", "gen", "--data", "manifest.jsonl", "--table", "gen"], "--table gen is a folder"),
    (["eval", "--model", "default", "--data", "manifest.jsonl", "--out", "gen"], "--out gen is not empty"),
    (["eval", "compare", "--data", "manifest.jsonl", "--json", "broken.jsonl"], "--json broken.jsonl already exists"),
]


@pytest.mark.parametrize("args,message", CASES, ids=[" ".join(a[1:3]) + f" #{i}" for i, (a, _) in enumerate(CASES)])
def test_bad_input_is_one_line(corpus, tmp_path, args, message):
    # An empty cache: none of these may reach the judge (or download it).
    env = {**os.environ, "T2A_EDGE_CACHE": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-m", "t2a_edge.apps.cli", *args], capture_output=True, text=True,
                         cwd=corpus, env=env)
    assert run.returncode == 2, (run.returncode, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], run.stderr
    assert not (tmp_path / "cache" / "judge").exists()


def test_bad_model_path_is_one_line(corpus, tmp_path):
    env = {**os.environ, "T2A_EDGE_CACHE": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-m", "t2a_edge.apps.cli", "eval", "--model", str(tmp_path / "no-model"),
                          "--data", "manifest.jsonl"], capture_output=True, text=True, cwd=corpus, env=env)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1
