"""The CLI: bad input is one clear line and a non-zero exit, never a traceback; good input writes files."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest


def run(*args, cwd=None):
    result = subprocess.run([sys.executable, "-m", "t2a_edge.apps.cli", *args], capture_output=True, text=True,
                            cwd=cwd, timeout=300)
    return result.returncode, result.stdout, result.stderr


def assert_one_line_error(code, err, pattern):
    """The README's rule for every user mistake: exit status 2 and one `error:` line, nothing else."""
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and pattern in lines[0], err


def test_a_build_without_the_default_model_says_how_to_get_one(tmp_path, monkeypatch, capsys):
    from t2a_edge.apps.cli import main
    from t2a_edge.core import paths

    monkeypatch.setattr(paths, "default_model_dir", lambda: tmp_path / "missing")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(["generate", "dog barking", "--backend", "torch"])
    err = capsys.readouterr().err
    assert_one_line_error(stop.value.code, err, "no default model")
    assert "t2a-edge train" in err
    assert not list(tmp_path.iterdir())


def test_a_full_disk_is_one_line_naming_the_file(tiny_student, tmp_path, monkeypatch, capsys):
    """libsndfile reports a full disk as a bare "System error": the user reads which file could not
    be written and what to do, and no partial file is left."""
    import collections
    import shutil

    import soundfile as sf

    from t2a_edge.apps.cli import main

    def full_disk_write(*args, **kwargs):
        raise sf.LibsndfileError(2)  # SF_ERR_SYSTEM, what libsndfile raises on ENOSPC

    monkeypatch.setattr(sf, "write", full_disk_write)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: collections.namedtuple("U", "total used free")(1, 1, 0))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(["generate", "dog", "--model", str(tiny_student), "--backend", "torch", "-o", "dog.wav"])
    err = capsys.readouterr().err
    assert_one_line_error(stop.value.code, err, "no space left on device")
    assert "dog.wav" in err and "t2a-edge cache list" in err
    assert not list(tmp_path.iterdir())

    # With room on the disk the same failure is not called a full disk, but it is still one line.
    monkeypatch.setattr(shutil, "disk_usage", lambda path: collections.namedtuple("U", "total used free")(1, 0, 1 << 40))
    with pytest.raises(SystemExit) as stop:
        main(["generate", "dog", "--model", str(tiny_student), "--backend", "torch", "-o", "dog.wav"])
    err = capsys.readouterr().err
    assert_one_line_error(stop.value.code, err, "cannot write")
    assert "no space" not in err and not list(tmp_path.iterdir())


def test_batches_are_written_as_they_finish(tiny_student, tmp_path, monkeypatch, capsys):
    """--batch N: the clips are those of one batch, and an interruption keeps every finished batch's files."""
    import soundfile as sf

    from t2a_edge.apps.cli import main
    from t2a_edge.runtimes import sampler

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("clicks\na falling chirp\na short hiss\n")
    base = ["generate", "--prompts-file", str(prompts), "--model", str(tiny_student), "--backend", "torch",
            "--seconds", "1"]
    main([*base, "-o", str(tmp_path / "whole")])
    main([*base, "-o", str(tmp_path / "pairs"), "--batch", "2"])
    names = sorted(p.name for p in (tmp_path / "whole").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "pairs").iterdir()) and len(names) == 3
    for name in names:
        assert np.array_equal(sf.read(tmp_path / "whole" / name)[0], sf.read(tmp_path / "pairs" / name)[0])

    real, calls = sampler.run_pipeline, []

    def interrupted_at_the_second_batch(*args, **kwargs):
        calls.append(kwargs["first_example"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sampler, "run_pipeline", interrupted_at_the_second_batch)
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main([*base, "-o", str(tmp_path / "cut"), "--batch", "2"])
    out, err = capsys.readouterr()
    assert stop.value.code == 130 and "interrupted" in err and calls == [0, 2]
    assert sorted(p.name for p in (tmp_path / "cut").iterdir()) == ["a_falling_chirp.wav", "clicks.wav"]
    assert out.count("wrote ") == 2


def test_only_the_machines_own_failures_become_one_line():
    """A full disk, a quota, a read-only or forbidden path are the user's to fix; any other OSError is
    a bug and keeps its traceback."""
    import errno

    from t2a_edge.apps.cli import machine_error_line

    line = machine_error_line(OSError(errno.ENOSPC, "No space left on device", "/cache/bundle/model.onnx"))
    assert line.startswith("no space left on device: /cache/bundle/model.onnx") and "cache list" in line
    assert machine_error_line(OSError(errno.EROFS, "Read-only file system", "/ro/x")) == "read-only file system: /ro/x"
    assert machine_error_line(OSError(errno.EACCES, "Permission denied")) == "permission denied"
    assert machine_error_line(FileNotFoundError(errno.ENOENT, "No such file", "/x")) is None
    assert machine_error_line(OSError("no errno")) is None


@pytest.mark.parametrize("args,pattern", [
    (["generate", "   "], "prompt is empty"),
    (["generate"], "no prompt given"),
    (["generate", "dog", "--seconds", "0"], "seconds must be a positive number"),
    (["generate", "dog", "--seconds", "-3"], "seconds must be a positive number"),
    (["generate", "dog", "--seconds", "999"], "seconds must be between"),
    (["generate", "dog", "--steps", "0"], "steps must be a whole number >= 1"),
    (["generate", "dog", "--temperature", "0"], "temperature must be > 0"),
    (["generate", "dog", "--noise-correlation", "-1"], "noise correlation must be >= 0"),
    (["generate", "dog", "--anchors", "-1"], "anchors must be a whole number >= 0"),
    (["generate", "dog", "--spread", "0"], "spread must be > 0"),
    (["generate", "dog", "--smooth", "-10"], "smooth must be >= 0 ms"),
    (["generate", "dog", "--seed", "-5"], "seed must be a whole number >= 0"),
])
def test_bad_generation_requests(tiny_student, tmp_path, args, pattern):
    code, out, err = run(*args, "--model", str(tiny_student), cwd=tmp_path)
    assert_one_line_error(code, err, pattern)
    assert not list(tmp_path.iterdir())


def test_missing_and_corrupt_models(tiny_student, tmp_path):
    code, _, err = run("generate", "dog", "--model", str(tmp_path / "nope"))
    assert_one_line_error(code, err, "does not exist")
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in tiny_student.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    shard = sorted(broken.glob("weights-*.safetensors"))[0]
    data = bytearray(shard.read_bytes())
    data[-10] ^= 0xFF
    shard.write_bytes(bytes(data))
    code, _, err = run("generate", "dog", "--model", str(broken), "-o", str(tmp_path / "x.wav"))
    assert_one_line_error(code, err, "corrupt")
    assert shard.name in err
    (broken / "model.json").write_text("{not json")
    code, _, err = run("generate", "dog", "--model", str(broken), "-o", str(tmp_path / "x.wav"))
    assert_one_line_error(code, err, "unreadable")
    (broken / "model.json").write_text("[1, 2]")  # JSON, but not a model's
    code, _, err = run("generate", "dog", "--model", str(broken), "-o", str(tmp_path / "x.wav"))
    assert_one_line_error(code, err, "model.json has format None, this t2a-edge reads 1")
    assert not (tmp_path / "x.wav").exists()


def test_output_paths_are_checked_before_any_work(tiny_student, tmp_path):
    existing = tmp_path / "dog.wav"
    existing.write_bytes(b"precious")
    code, _, err = run("generate", "dog", "--model", str(tiny_student), "-o", str(existing), "--seconds", "1")
    assert_one_line_error(code, err, "already exists")
    assert existing.read_bytes() == b"precious"
    code, _, err = run("generate", "dog", "--model", str(tiny_student), "-o", str(tmp_path / "no" / "x.wav"))
    assert_one_line_error(code, err, "does not exist")
    code, _, err = run("generate", "dog", "cat", "--model", str(tiny_student), "-o", str(tmp_path / "one.wav"))
    assert_one_line_error(code, err, "need -o DIR")
    if os.geteuid() != 0:  # root can write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        code, _, err = run("generate", "dog", "--model", str(tiny_student), "-o", str(locked / "x.wav"))
        assert_one_line_error(code, err, "permission denied")
    code, _, err = run("generate", "dog", "--model", str(tiny_student), "-o", str(tmp_path / "x.mp3"))
    assert_one_line_error(code, err, "unsupported output format")
    assert not (tmp_path / "x.mp3").exists()


def test_force_overwrites_and_json_lines(tiny_student, tmp_path):
    existing = tmp_path / "dog.wav"
    existing.write_bytes(b"old")
    code, out, err = run("generate", "dog", "--model", str(tiny_student), "-o", str(existing), "--seconds", "1",
                         "--force", "--json", "--backend", "torch")
    assert code == 0, err
    record = json.loads(out.strip())
    assert record["file"] == str(existing) and record["seconds"] == 1.0 and record["backend"] == "torch"
    assert set(record["timings"]) >= {"load", "text", "steps", "decode", "total"}
    assert existing.read_bytes()[:4] == b"RIFF"


def test_several_prompts_from_file_into_a_folder_with_spectrogram(tiny_student, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a rising chirp\n\n# a comment\nclicks\n")
    out_dir = tmp_path / "clips"
    code, out, err = run("generate", "a short hiss", "--prompts-file", str(prompts), "--model", str(tiny_student),
                         "-o", str(out_dir), "--seconds", "0.8", "--spectrogram", str(tmp_path / "s.png"))
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["a_rising_chirp.wav", "a_short_hiss.wav", "clicks.wav"]
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    assert "model defaults used" in out and "real-time factor" in out


def test_codec_is_not_a_generator_and_cuda_needs_a_gpu(tiny_runs, tmp_path):
    code, _, err = run("generate", "dog", "--model", str(tiny_runs["codec"]), "-o", str(tmp_path / "x.wav"))
    assert_one_line_error(code, err, "is a codec")
    import torch

    if not torch.cuda.is_available():
        code, _, err = run("generate", "dog", "--model", str(tiny_runs["student"]), "--device", "cuda",
                           "-o", str(tmp_path / "x.wav"))
        assert_one_line_error(code, err, "CUDA")
    assert not (tmp_path / "x.wav").exists()


def test_train_bad_input(tmp_path, synthetic_corpus):
    code, _, err = run("train", "codec", "--data", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "r"),
                       "--preset", "tiny")
    assert_one_line_error(code, err, "no corpus manifest")
    code, _, err = run("train", "student", "--data", str(synthetic_corpus), "--out", str(tmp_path / "r2"),
                       "--preset", "tiny")
    assert_one_line_error(code, err, "--init")
    code, _, err = run("train", "codec", "--data", str(synthetic_corpus), "--out", str(tmp_path / "r3"), "--resume",
                       "--preset", "tiny")
    assert_one_line_error(code, err, "nothing to resume")


def test_info_json():
    code, out, err = run("info", "--json")
    assert code == 0, err
    facts = json.loads(out)
    assert facts["versions"]["t2a-edge"]
    assert facts["backends"]["torch"].startswith("available")
    assert "cache" in facts["paths"]


def test_help_lists_every_verb_without_importing_torch():
    code = subprocess.run([sys.executable, "-c",
                           "import sys; from t2a_edge.apps.cli import main\n"
                           "try:\n    main(['--help'])\nexcept SystemExit: pass\n"
                           "assert 'torch' not in sys.modules, 'help imported torch'"],
                          capture_output=True, text=True)
    assert code.returncode == 0, code.stderr
    for verb in ("generate", "convert", "bench", "eval", "train", "data", "info"):
        assert verb in code.stdout


def test_resume_without_steps_keeps_the_stored_schedule(tmp_path, synthetic_corpus):
    """`train --resume` without --steps finishes the run's own schedule (not the 1000-step default);
    with --steps it extends the run."""
    out = tmp_path / "run"
    common = ("--data", str(synthetic_corpus), "--out", str(out), "--preset", "tiny", "--quiet")
    code, _, err = run("train", "codec", *common, "--steps", "4", "--batch", "2", "--checkpoint-every", "2",
                       "--until-step", "2")
    assert code == 0, err
    code, _, err = run("train", "codec", *common, "--resume")
    assert code == 0, err
    steps = [json.loads(line).get("step") for line in (out / "train.log").read_text().splitlines()]
    assert max(s for s in steps if s is not None) == 4
    assert sorted(p.name for p in (out / "checkpoints").glob("step-*"))[-1] == "step-00000004"
    code, _, err = run("train", "codec", *common, "--resume", "--steps", "6")  # --steps extends it
    assert code == 0, err
    assert sorted(p.name for p in (out / "checkpoints").glob("step-*"))[-1] == "step-00000006"


def test_resume_refuses_settings_that_differ_from_the_run(tmp_path, synthetic_corpus):
    """A setting typed beside --resume that the run does not have is one error line, not silently ignored;
    the same settings repeated are fine, and --steps may only extend the run."""
    out = tmp_path / "run"
    common = ("--data", str(synthetic_corpus), "--out", str(out), "--preset", "tiny", "--quiet")
    code, _, err = run("train", "codec", *common, "--steps", "4", "--batch", "2", "--checkpoint-every", "2",
                       "--until-step", "2")
    assert code == 0, err
    log = (out / "train.log").read_text()
    code, _, err = run("train", "codec", *common, "--resume", "--batch", "3", "--seed", "1", "--steps", "3")
    assert_one_line_error(code, err, "--batch 3 (the run's: 2)")
    assert "--seed 1 (the run's: 0)" in err and "--steps 3 (the run's: 4" in err
    code, _, err = run("train", "teacher", *common, "--resume")
    assert_one_line_error(code, err, "stage teacher (the run's: codec)")
    assert (out / "train.log").read_text() == log  # refused before touching the run
    assert sorted(p.name for p in (out / "checkpoints").glob("step-*"))[-1] == "step-00000002"
    code, _, err = run("train", "codec", *common, "--resume", "--batch", "2", "--steps", "4", "--seed", "0")
    assert code == 0, err
    assert sorted(p.name for p in (out / "checkpoints").glob("step-*"))[-1] == "step-00000004"


def test_train_refuses_an_out_folder_of_other_files(tmp_path, synthetic_corpus):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "model").mkdir()
    (out / "model" / "cat.jpg").write_bytes(b"mine")
    code, _, err = run("train", "codec", "--data", str(synthetic_corpus), "--out", str(out), "--preset", "tiny",
                       "--steps", "2", "--quiet")
    assert_one_line_error(code, err, "already holds files that are not a training run")
    assert sorted(p.name for p in out.rglob("*")) == ["cat.jpg", "model"]
