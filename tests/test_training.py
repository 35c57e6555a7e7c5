"""The three trainers end to end, exact resume, interruption, and multi-process DDP."""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from t2a_edge.train.loop import train
from t2a_edge.train.stages import Settings


E2E_SNR_DB = 30.0  # the README's end-to-end parity figure, a literal so a loosened constant cannot loosen it


def log_records(run: Path):
    return [json.loads(line) for line in (run / "train.log").read_text().splitlines()]


def test_tiny_recipe_end_to_end_produces_a_file(tiny_runs, tmp_path):
    from click.testing import CliRunner

    from t2a_edge.apps.cli import cli

    for stage, term in (("codec", "mrstft"), ("teacher", "diffusion"), ("student", "energy")):
        records = [r for r in log_records(tiny_runs[stage]) if r["event"] == "train"]
        assert records and term in records[-1]
    assert "distill" in records[-1]
    out = tmp_path / "dog.wav"
    result = CliRunner().invoke(cli, ["generate", "a rising chirp", "--model", str(tiny_runs["student"]),
                                      "-o", str(out), "--seconds", "1.0", "--steps", "2"])
    assert result.exit_code == 0, result.output
    import soundfile as sf

    data, rate = sf.read(out)
    assert rate == 16000 and len(data) == 16000


def test_student_starts_from_teacher_backbone(tiny_runs):
    from t2a_edge.core.model import load_model
    from t2a_edge.train.checkpoint import latest_checkpoint

    teacher = load_model(tiny_runs["teacher"] / "model")
    first = sorted((tiny_runs["student"] / "checkpoints").glob("step-*"))[0]
    assert latest_checkpoint(tiny_runs["student"]) != first
    student = load_model(tiny_runs["student"] / "model")
    assert torch.equal(student.codec.decoder.out.weight, teacher.codec.decoder.out.weight)  # codec frozen
    diff = (student.backbone.blocks[0].fc1.weight - teacher.backbone.blocks[0].fc1.weight).abs().max()
    assert 0 < diff < 0.05  # moved a little from the teacher's weights, not re-initialised


def _settings(**kw):
    base = dict(stage="codec", preset="tiny", steps=6, batch=2, checkpoint_every=3, log_every=1)
    base.update(kw)
    return Settings(**base)


def test_resume_is_exact(synthetic_corpus, tmp_path, tiny_runs):
    init = str(tiny_runs["codec"])
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(_settings(stage="teacher", init=init), str(synthetic_corpus), straight, show_progress=False)
    train(_settings(stage="teacher", init=init), str(synthetic_corpus), split, show_progress=False, until_step=3)
    assert [r["step"] for r in log_records(split) if r["event"] == "paused"] == [3]
    train(_settings(stage="teacher", init=init), str(synthetic_corpus), split, resume=True, show_progress=False)
    a = load_file(str(straight / "checkpoints" / "step-00000006" / "weights.safetensors"))
    b = load_file(str(split / "checkpoints" / "step-00000006" / "weights.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    oa = load_file(str(straight / "checkpoints" / "step-00000006" / "optimizer.safetensors"))
    ob = load_file(str(split / "checkpoints" / "step-00000006" / "optimizer.safetensors"))
    assert all(torch.equal(oa[k], ob[k]) for k in oa)


def _plain_straight_split(corpus, tmp_path, init: str, **setting) -> dict:
    """Three student runs of 6 steps: without `setting`, with it, and with it stopped at step 3 and
    resumed (the resume typing nothing: the run's stored settings stand)."""
    runs = {name: tmp_path / name for name in ("plain", "straight", "split")}
    train(_settings(stage="student", init=init), str(corpus), runs["plain"], show_progress=False)
    train(_settings(stage="student", init=init, **setting), str(corpus), runs["straight"], show_progress=False)
    train(_settings(stage="student", init=init, **setting), str(corpus), runs["split"], show_progress=False,
          until_step=3)
    train(_settings(stage="student", init=init), str(corpus), runs["split"], resume=True, show_progress=False)
    return runs


def test_dropout_changes_training_and_resumes_exactly(synthetic_corpus, tmp_path, tiny_runs):
    """A run with --dropout stopped and resumed equals the uninterrupted one (its masks are drawn
    from a per-step seed), and differs from the run without dropout."""
    runs = _plain_straight_split(synthetic_corpus, tmp_path, str(tiny_runs["teacher"]), dropout=0.3)
    assert log_records(runs["split"])[-1]["event"] == "checkpoint"
    weights = {name: load_file(str(run / "checkpoints" / "step-00000006" / "weights.safetensors"))
               for name, run in runs.items()}
    assert all(torch.equal(weights["straight"][k], weights["split"][k]) for k in weights["straight"])
    assert not all(torch.equal(weights["straight"][k], weights["plain"][k]) for k in weights["plain"])


def test_weight_average_follows_its_formula_and_restores_the_weights():
    from t2a_edge.train.ema import WeightAverage

    model = torch.nn.Linear(3, 2)
    model.bias.requires_grad_(False)  # frozen weights are not averaged
    start = model.weight.detach().clone()
    average = WeightAverage(model, decay=0.9)
    assert set(average.average) == {"weight"}
    with torch.no_grad():
        model.weight.add_(1.0)
    average.update(1)  # warm-up: decay min(0.9, 2 / 11)
    expected = start + (1 - 2 / 11) * 1.0
    assert torch.allclose(average.average["weight"], expected)
    with average.applied():
        assert torch.allclose(model.weight, expected)
    assert torch.equal(model.weight, start + 1.0)
    with pytest.raises(ValueError):
        average.load_state_dict({"bias": torch.zeros(2)})


def test_ema_exports_the_average_and_resumes_exactly(synthetic_corpus, tmp_path, tiny_runs):
    """A run with --ema exports its weight average (not its last weights, which the checkpoint keeps);
    stopped and resumed it exports what the uninterrupted run does; a run without the average in its
    checkpoints exports its last weights."""
    from t2a_edge.core.model import load_model

    runs = _plain_straight_split(synthetic_corpus, tmp_path, str(tiny_runs["teacher"]), ema=0.9)
    last = "checkpoints/step-00000006"
    raw = {name: load_file(str(run / last / "weights.safetensors")) for name, run in runs.items()}
    assert all(torch.equal(raw["plain"][k], raw["straight"][k]) for k in raw["plain"])  # the average only watches
    exported = {name: load_model(run / "model").state_dict() for name, run in runs.items()}
    key = "backbone.blocks.0.fc1.weight"
    assert torch.equal(exported["plain"][key], raw["plain"][key])
    assert not torch.equal(exported["straight"][key], raw["straight"][key])
    stored = load_file(str(runs["straight"] / last / "average.safetensors"))
    assert torch.equal(exported["straight"][key], stored[key])
    assert all(torch.equal(exported["straight"][k], exported["split"][k]) for k in exported["straight"])


def test_teacher_draws_are_drawn_once_kept_and_verified(synthetic_corpus, tmp_path, tiny_runs):
    """--teacher-draws draws the teacher's guided one-step samples once per run, with their sha256;
    the student trains on them (unlike a run without), resumes exactly on the stored draws, and a
    tampered draws file is refused with a clear error."""
    from t2a_edge.core.errors import T2AError
    from t2a_edge.train.teacher_draws import FILE

    init = str(tiny_runs["teacher"])
    draws = dict(stage="student", init=init, teacher_draws=1.0, draws_per_caption=2)
    runs = {name: tmp_path / name for name in ("plain", "straight", "split")}
    train(_settings(stage="student", init=init), str(synthetic_corpus), runs["plain"], show_progress=False)
    train(_settings(**draws), str(synthetic_corpus), runs["straight"], show_progress=False)
    train(_settings(**draws), str(synthetic_corpus), runs["split"], show_progress=False, until_step=3)
    stored = runs["split"] / FILE
    before = (stored.read_bytes(), stored.stat().st_mtime_ns)
    train(_settings(stage="student", init=init), str(synthetic_corpus), runs["split"], resume=True,
          show_progress=False)
    assert (stored.read_bytes(), stored.stat().st_mtime_ns) == before  # reused, not drawn again
    tensor = load_file(str(stored))["draws"]
    assert tensor.shape[1] == 2 and torch.isfinite(tensor.float()).all() and tensor.float().std() > 0
    assert not torch.equal(tensor[:, 0], tensor[:, 1])  # two different draws per caption
    weights = {name: load_file(str(run / "checkpoints" / "step-00000006" / "weights.safetensors"))
               for name, run in runs.items()}
    assert all(torch.equal(weights["straight"][k], weights["split"][k]) for k in weights["straight"])
    assert not all(torch.equal(weights["straight"][k], weights["plain"][k]) for k in weights["plain"])
    with open(stored, "r+b") as f:
        f.seek(-8, 2)
        f.write(b"\x00garbage")
    with pytest.raises(T2AError, match="sha256"):
        train(_settings(stage="student", init=init, steps=9), str(synthetic_corpus), runs["split"], resume=True,
              show_progress=False)
    with pytest.raises(T2AError, match="student settings"):
        train(_settings(stage="teacher", init=str(tiny_runs["codec"]), teacher_draws=0.5), str(synthetic_corpus),
              tmp_path / "teacher", show_progress=False)


def test_teacher_draws_take_the_teachers_mar_steps(tiny_teacher, tmp_path):
    """--draw-steps K reaches the sampler: the draws are the teacher's K-step samples (not its
    one-step ones), and stored draws made with another K are refused."""
    from t2a_edge.core.errors import T2AError
    from t2a_edge.core.model import load_model
    from t2a_edge.runtimes.sampler import generate_tokens
    from t2a_edge.runtimes.torch_backend import TorchBackend
    from t2a_edge.train.teacher_draws import DIFFUSION_STEPS, generate_draws, load_draws, save_draws

    teacher = load_model(tiny_teacher)
    width = teacher.cfg.backbone
    text = torch.randn(3, width.text_tokens, width.text_dim, generator=torch.Generator().manual_seed(0))
    mask = torch.ones(3, width.text_tokens)
    drawn = {k: generate_draws(teacher, text, mask, 12, 1, 3.0, 7, show_progress=False, steps=k) for k in (1, 4)}
    expected = generate_tokens(TorchBackend(teacher), text.numpy(), mask.numpy(), 12, 4, 3.0, 1.0, 7, DIFFUSION_STEPS)
    assert torch.allclose(drawn[4][:, 0].float(), torch.from_numpy(expected), atol=1e-2)
    assert not torch.allclose(drawn[4].float(), drawn[1].float(), atol=1e-2)
    save_draws(tmp_path, drawn[4], {"steps": 4})
    assert torch.equal(load_draws(tmp_path, {"steps": 4}), drawn[4])
    with pytest.raises(T2AError, match="other settings"):
        load_draws(tmp_path, {"steps": 1})


def test_existing_run_needs_resume_and_corrupt_checkpoint_is_refused(synthetic_corpus, tmp_path, tiny_runs):
    from t2a_edge.core.errors import T2AError

    run = tmp_path / "run"
    train(_settings(steps=3), str(synthetic_corpus), run, show_progress=False)
    with pytest.raises(T2AError, match="--resume"):
        train(_settings(steps=3), str(synthetic_corpus), run, show_progress=False)
    ckpt = sorted((run / "checkpoints").glob("step-*"))[-1]
    with open(ckpt / "weights.safetensors", "r+b") as f:
        f.seek(100)
        f.write(b"\x00garbage")
    with pytest.raises(T2AError, match="corrupt"):
        train(_settings(steps=6), str(synthetic_corpus), run, resume=True, show_progress=False)


def test_a_full_disk_at_a_checkpoint_keeps_the_last_one_and_says_so(synthetic_corpus, tmp_path, monkeypatch):
    """safetensors reports a full disk as its own error type: it becomes OSError(ENOSPC) naming the file,
    the partial checkpoint is removed and the previous one still resumes."""
    import errno

    import safetensors.torch
    from safetensors import SafetensorError

    from t2a_edge.core.tensor_files import save_tensors

    with pytest.raises(OSError) as missing:  # a real failed write: its errno comes through
        save_tensors({"w": torch.zeros(2)}, tmp_path / "no-such-folder" / "w.safetensors")
    assert missing.value.errno == errno.ENOENT and missing.value.filename.endswith("w.safetensors")

    real_save, calls = safetensors.torch.save_file, []

    def full_after_first_checkpoint(tensors, filename, *args, **kwargs):
        calls.append(filename)
        if "partial" in str(filename) and len([c for c in calls if "partial" in str(c)]) > 2:
            raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
        return real_save(tensors, filename, *args, **kwargs)

    monkeypatch.setattr(safetensors.torch, "save_file", full_after_first_checkpoint)
    run = tmp_path / "run"
    with pytest.raises(OSError) as full:
        train(_settings(steps=6), str(synthetic_corpus), run, show_progress=False)
    assert full.value.errno == errno.ENOSPC and "checkpoints" in full.value.filename
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-00000003"]
    monkeypatch.setattr(safetensors.torch, "save_file", real_save)
    train(_settings(steps=6), str(synthetic_corpus), run, resume=True, show_progress=False)
    assert [r["step"] for r in log_records(run) if r["event"] == "start"] == [0, 3]


def test_sigterm_checkpoints_and_stops(synthetic_corpus, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "t2a_edge.apps.cli", "train", "codec", "--data", str(synthetic_corpus),
           "--out", str(run), "--preset", "tiny", "--steps", "100000", "--batch", "2", "--checkpoint-every",
           "100000", "--log-every", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (run / "train.log").exists() and any(r["event"] == "train" for r in log_records(run)):
            break
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    records = log_records(run)
    stopped = [r for r in records if r["event"] == "interrupted"]
    assert stopped, records[-3:]
    assert (run / "checkpoints" / f"step-{stopped[0]['step']:08d}" / "state.json").is_file()
    assert not list((run / "checkpoints").glob(".partial-*"))


def test_two_process_ddp_keeps_ranks_in_sync(synthetic_corpus, tmp_path):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    run = tmp_path / "ddp"
    cmd = [torchrun, "--standalone", "--nproc_per_node=2", "-m", "t2a_edge.apps.cli", "train", "codec",
           "--data", str(synthetic_corpus), "--out", str(run), "--preset", "tiny", "--steps", "4", "--batch", "2",
           "--checkpoint-every", "4", "--quiet"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    ranks = [r for r in log_records(run) if r["event"] == "ranks"]
    assert ranks and len(ranks[0]["checksums"]) == 2
    assert ranks[0]["in_sync"] is True
    start = [r for r in log_records(run) if r["event"] == "start"][0]
    assert start["world"] == 2


def test_padding_is_marked_and_left_out_of_the_loss_when_asked():
    """A clip shorter than its batch is padded with silence: `valid` marks it, and the loss can skip it."""
    from types import SimpleNamespace

    import numpy as np

    from t2a_edge.core.config import preset
    from t2a_edge.train.data import TokenBank
    from t2a_edge.train.stages import make_batch

    bank = TokenBank.__new__(TokenBank)
    bank.tokens = [torch.ones(12, 4), torch.ones(5, 4)]  # a long clip and a short one
    bank.shifted = [[], []]
    bank.silence = torch.zeros(4)
    bank.clips = [SimpleNamespace(captions=["long"]), SimpleNamespace(captions=["short"])]
    bank.caption_index = {"long": 0, "short": 1}
    bank.text, bank.text_mask = torch.zeros(2, 3, 8), torch.ones(2, 3)
    bank.max_tokens = 12
    rng = np.random.default_rng(0)
    while True:  # a batch led by the long clip that also holds the short one
        batch = bank.batch(rng, 6)
        short = [r for r in range(6) if batch["valid"][r].sum() == 5]
        if batch["tokens"].shape[1] == 12 and short:
            break
    row = short[0]
    assert batch["valid"][row, :5].eq(1).all() and batch["valid"][row, 5:].eq(0).all()
    assert batch["tokens"][row, 5:].eq(0).all() and batch["valid"].sum() > 0

    cfg = preset("tiny")
    data = SimpleNamespace(batch=lambda rng, b, **_: batch)
    for on in (True, False):
        settings = Settings(stage="student", preset="tiny", batch=6, loss_on_padding=on)
        out = make_batch(settings, cfg, data, rng, torch.Generator().manual_seed(0))
        expected = out["mask"] if on else out["mask"] * batch["valid"]
        assert torch.equal(out["loss_mask"], expected)
    assert out["loss_mask"][row, 5:].eq(0).all() and out["mask"][row, 5:].sum() > 0


def test_teacher_takes_the_codec_of_any_model_and_the_student_only_a_teacher(synthetic_corpus, tmp_path, tiny_runs):
    """A new teacher can start from a student's (or the shipped default's) codec; a student needs a teacher."""
    from t2a_edge.core.errors import T2AError
    from t2a_edge.core.model import load_model

    run = tmp_path / "teacher-from-student"
    train(_settings(stage="teacher", steps=2, checkpoint_every=2, init=str(tiny_runs["student"])),
          str(synthetic_corpus), run, show_progress=False)
    source, teacher = load_model(tiny_runs["student"] / "model"), load_model(run / "model")
    assert teacher.kind == "teacher"
    assert torch.equal(teacher.codec.decoder.out.weight, source.codec.decoder.out.weight)
    with pytest.raises(T2AError, match="needs a teacher"):
        train(_settings(stage="student", steps=2, init=str(tiny_runs["codec"])), str(synthetic_corpus),
              tmp_path / "student-from-codec", show_progress=False)


def test_mask_schedule_reaches_the_run_from_the_cli(synthetic_corpus, tmp_path, tiny_runs, capsys):
    """`--mask-schedule cosine` is stored with the run (so --resume keeps it); an unknown one is refused."""
    from t2a_edge.apps.cli import main

    out = tmp_path / "cosine-student"
    main(["train", "student", "--data", str(synthetic_corpus), "--out", str(out), "--init", str(tiny_runs["teacher"]),
          "--preset", "tiny", "--steps", "2", "--batch", "2", "--checkpoint-every", "2", "--mask-schedule", "cosine",
          "--quiet"])
    assert log_records(out)[0]["settings"]["mask_schedule"] == "cosine"
    assert json.loads((out / "model" / "model.json").read_text())["stage_settings"]["mask_schedule"] == "cosine"
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "student", "--data", str(synthetic_corpus), "--out", str(tmp_path / "x"),
              "--mask-schedule", "uniform"])
    assert exit_info.value.code == 2 and "uniform" in capsys.readouterr().err


def test_head_width_widens_the_teachers_head_and_the_students_follows(synthetic_corpus, tmp_path, tiny_runs, capsys):
    """`--head-width W` sets the teacher's diffusion head width; its student's energy head takes the same
    width and generates; a student given the option is refused in one line."""
    from t2a_edge.apps.cli import main
    from t2a_edge.core.model import load_model
    from t2a_edge.runtimes.api import TextToAudio

    common = ["--data", str(synthetic_corpus), "--preset", "tiny", "--steps", "2", "--batch", "2",
              "--checkpoint-every", "2", "--quiet"]
    main(["train", "teacher", "--out", str(tmp_path / "teacher"), "--init", str(tiny_runs["codec"]),
          "--head-width", "40", *common])
    teacher = load_model(tmp_path / "teacher" / "model")
    assert teacher.cfg.head.width == 40 and teacher.diffusion_head.width == 40
    assert load_model(tiny_runs["teacher"] / "model").cfg.head.width != 40
    main(["train", "student", "--out", str(tmp_path / "student"), "--init", str(tmp_path / "teacher"), *common])
    student = load_model(tmp_path / "student" / "model")
    assert student.cfg.head.width == 40 and student.energy_head.cond_proj.out_features == 40
    audio = TextToAudio.load(tmp_path / "student" / "model", backend="torch").generate("a dog", seconds=1.0)
    assert audio.samples.shape == (16000,)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "student", "--out", str(tmp_path / "x"), "--init", str(tmp_path / "teacher"),
              "--head-width", "64", *common])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--head-width" in err and "Traceback" not in err and err.count("\n") == 1


def test_clip_noise_student_trains_from_the_cli_and_generates(synthetic_corpus, tmp_path, tiny_runs, capsys):
    """`--clip-noise N --clip-energy-weight W` reach the model and its log, `--category-captions`,
    `--dropout` and `--energy-tau` the run's settings; a student so trained generates; a teacher refuses
    `--energy-tau`."""
    import soundfile as sf

    from t2a_edge.apps.cli import main
    from t2a_edge.core.model import load_model

    out = tmp_path / "clip-student"
    common = ["train", "student", "--data", str(synthetic_corpus), "--init", str(tiny_runs["teacher"]),
              "--preset", "tiny", "--steps", "2", "--batch", "2", "--checkpoint-every", "2", "--quiet"]
    main(common + ["--out", str(out), "--clip-noise", "4", "--clip-energy-weight", "1", "--category-captions", "0.5",
                   "--dropout", "0.1", "--energy-tau", "0.7"])
    settings = log_records(out)[0]["settings"]
    # Stored, so --resume keeps them.
    assert settings["category_captions"] == 0.5 and settings["dropout"] == 0.1 and settings["energy_tau"] == 0.7
    records = [r for r in log_records(out) if r["event"] == "train"]
    assert records and all(r["clip_energy"] > 0 for r in records)
    assert load_model(out / "model").cfg.head.clip_noise_dim == 4
    wav = tmp_path / "clip.wav"
    main(["generate", "a rising chirp", "--model", str(out), "-o", str(wav), "--seconds", "1.0", "--steps", "2",
          "--backend", "torch"])
    assert len(sf.read(wav)[0]) == 16000
    with pytest.raises(SystemExit) as exit_info:  # the tiny head has 16 noise channels
        main(common + ["--out", str(tmp_path / "too-many"), "--clip-noise", "17"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--clip-noise 17" in err and "Traceback" not in err
    refused(["train", "teacher", "--data", str(synthetic_corpus), "--init", str(tiny_runs["codec"]), "--preset", "tiny",
             "--steps", "2", "--out", str(tmp_path / "t"), "--energy-tau", "0.5"], "student settings", capsys)


def test_clip_noise_channels_are_drawn_once_per_training_clip():
    """The first clip_noise_dim channels repeat along a clip, differ between clips and samples; the
    per-token channels are the draws a run without clip noise gets."""
    import dataclasses
    from types import SimpleNamespace

    import numpy as np

    from t2a_edge.core.config import preset
    from t2a_edge.train.stages import make_batch

    n = 7
    batch = {"tokens": torch.zeros(3, n, 16), "valid": torch.ones(3, n), "text": torch.zeros(3, 2, 8),
             "text_mask": torch.ones(3, 2)}
    data = SimpleNamespace(batch=lambda rng, b, **_: dict(batch))
    plain = preset("tiny")
    shared = dataclasses.replace(plain, head=dataclasses.replace(plain.head, clip_noise_dim=4))
    settings = Settings(stage="student", preset="tiny", batch=3)
    out = {cfg.head.clip_noise_dim: make_batch(settings, cfg, data, np.random.default_rng(0),
                                               torch.Generator().manual_seed(0)) for cfg in (plain, shared)}
    for name in ("u1", "u2"):
        clip = out[4][name][..., :4]
        assert torch.equal(clip, clip[:, :1].expand_as(clip)) and not torch.equal(clip[0], clip[1])
        assert torch.equal(out[4][name][..., 4:], out[0][name][..., 4:])
        assert not torch.equal(out[0][name][:, 0, :4], out[0][name][:, 1, :4])
    assert not torch.equal(out[4]["u1"][..., :4], out[4]["u2"][..., :4])


def test_timestep_power_draws_more_high_noise_steps(tiny_runs):
    """--timestep-power 2 gives t a density rising with t (mean 2T/3) inside [0, T); at 1 the draw stays
    uniform; a student refuses the option."""
    from types import SimpleNamespace

    import numpy as np

    from t2a_edge.core.config import preset
    from t2a_edge.core.errors import T2AError
    from t2a_edge.train.stages import build, make_batch

    batch = {"tokens": torch.zeros(4000, 3, 16), "valid": torch.ones(4000, 3), "text": torch.zeros(4000, 2, 8),
             "text_mask": torch.ones(4000, 2)}
    data = SimpleNamespace(batch=lambda rng, b, **_: dict(batch))
    cfg = preset("tiny")
    steps = cfg.head.diffusion_steps

    def drawn(power):
        settings = Settings(stage="teacher", preset="tiny", batch=4000, timestep_power=power)
        return make_batch(settings, cfg, data, np.random.default_rng(0), torch.Generator().manual_seed(0))["t"]

    uniform, skewed = drawn(1.0), drawn(2.0)
    assert 0 <= int(skewed.min()) and int(skewed.max()) < steps
    assert abs(float(skewed.float().mean()) / steps - 2 / 3) < 0.02
    assert abs(float(uniform.float().mean()) / steps - 1 / 2) < 0.02
    assert float((skewed < steps / 2).float().mean()) < 0.3  # 1/4 expected, against 1/2 for uniform
    with pytest.raises(T2AError, match="teacher settings"):
        build(Settings(stage="student", preset="tiny", init=str(tiny_runs["teacher"]), timestep_power=2.0), cfg)


def test_category_captions_pool_the_captions_of_a_category():
    """--category-captions 1 captions each clip from its whole category, never another category;
    at 0 a clip keeps its own captions and the data stream is the one runs without the option draw."""
    from types import SimpleNamespace

    import numpy as np

    from t2a_edge.train.data import TokenBank

    bank = TokenBank.__new__(TokenBank)
    clips = [("dog", ["a dog barks"]), ("dog", ["a puppy yaps"]), ("rain", ["rain on a roof"])]
    bank.clips = [SimpleNamespace(category=c, captions=caps) for c, caps in clips]
    bank.tokens = [torch.full((6, 4), float(i)) for i in range(3)]
    bank.shifted = [[], [], []]
    bank.silence = torch.zeros(4)
    bank.caption_index = {caps[0]: i for i, (_, caps) in enumerate(clips)}
    bank.text = torch.arange(3, dtype=torch.float32)[:, None, None].expand(3, 2, 8).clone()
    bank.text_mask = torch.ones(3, 2)
    bank.max_tokens = 6
    bank.category_captions = {"dog": ["a dog barks", "a puppy yaps"], "rain": ["rain on a roof"]}

    def pairs(share, seed=0):  # (clip index, caption index) of every row of 50 batches
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(50):
            drawn = bank.batch(rng, 8, category_share=share)
            out += [(int(t[0, 0]), int(c[0, 0])) for t, c in zip(drawn["tokens"], drawn["text"])]
        return out

    own = pairs(0.0)
    assert all(clip == caption for clip, caption in own)
    rng = np.random.default_rng(0)
    plain = [bank.batch(rng, 8) for _ in range(50)]
    assert [int(t[0, 0]) for d in plain for t in d["tokens"]] == [clip for clip, _ in own]
    pooled = pairs(1.0)
    assert {(0, 1), (1, 0)} <= set(pooled)  # the dogs swap captions
    assert all((clip == 2) == (caption == 2) for clip, caption in pooled)  # never across categories


def test_shift_views_encode_every_clip_at_later_offsets(synthetic_corpus, tiny_runs):
    """With --shift-views 3 each clip is also encoded from 1/3 and 2/3 of a token in: other tokens
    from the same sound, while view 0 is the clip's usual encoding."""
    from t2a_edge.core.model import load_model
    from t2a_edge.core.text import TextEncoder
    from t2a_edge.core.tokenizer import Tokenizer
    from t2a_edge.train.data import AudioBank, TokenBank

    model = load_model(tiny_runs["teacher"] / "model")
    audio = AudioBank(str(synthetic_corpus), "train", show_progress=False)
    parts = (model, TextEncoder.pretrained(), Tokenizer(model.cfg.backbone.text_tokens), False)
    plain, shifted = TokenBank(audio, *parts), TokenBank(audio, *parts, shift_views=3)
    assert all(torch.equal(a, b) for a, b in zip(plain.tokens, shifted.tokens))
    assert len(plain.shifted[0]) == 0 and len(shifted.shifted[0]) == 2
    offset = 2 * model.cfg.token_samples // 3
    with torch.inference_mode():
        expected = model.tokens_from_latents(model.codec.encode(torch.from_numpy(audio.audio[0][offset:])[None]))[0]
    view = shifted.shifted[0][1]
    assert torch.allclose(view, expected)
    n = min(len(view), len(plain.tokens[0]))
    assert (view[:n] - plain.tokens[0][:n]).abs().mean() > 0.05 * plain.tokens[0].abs().mean()


def test_shift_views_draw_every_view():
    """Batches draw among all of a clip's views; with one view only the clip's usual tokens."""
    from types import SimpleNamespace

    import numpy as np

    from t2a_edge.train.data import TokenBank

    bank = TokenBank.__new__(TokenBank)
    bank.clips = [SimpleNamespace(category="dog", captions=["a dog barks"])]
    bank.tokens = [torch.zeros(6, 4)]
    other_views = [torch.ones(6, 4), torch.full((6, 4), 2.0)]
    bank.silence = torch.zeros(4)
    bank.caption_index = {"a dog barks": 0}
    bank.text, bank.text_mask = torch.zeros(1, 2, 8), torch.ones(1, 2)
    bank.max_tokens = 6

    def views(shift_views):
        bank.shifted = [other_views[:shift_views - 1]]
        rng = np.random.default_rng(0)
        return {int(t[0, 0]) for _ in range(20) for t in bank.batch(rng, 8)["tokens"]}

    assert views(3) == {0, 1, 2}
    assert views(1) == {0}


def test_shift_views_from_the_cli_are_stored_and_checked(synthetic_corpus, tmp_path, tiny_runs, cli):
    common = ["--data", str(synthetic_corpus), "--preset", "tiny", "--steps", "2", "--batch", "2",
              "--checkpoint-every", "2", "--quiet", "--init", str(tiny_runs["teacher"])]
    code, _, err = cli(["train", "student", "--out", str(tmp_path / "s"), "--shift-views", "2"] + common)
    assert code == 0, err
    assert log_records(tmp_path / "s")[0]["settings"]["shift_views"] == 2  # stored, so --resume keeps it
    code, _, err = cli(["train", "student", "--out", str(tmp_path / "s0"), "--shift-views", "0"] + common)
    assert code == 2 and "--shift-views" in err and "Traceback" not in err
    assert not (tmp_path / "s0").exists()


def test_teacher_backbone_and_patch_from_the_cli_pass_to_its_student_and_convert(synthetic_corpus, tmp_path,
                                                                                   tiny_runs, cli):
    """`--rope-dims`, `--local-kernel` and `--patch` shape a teacher; its student keeps them (and refuses
    its own), and an ONNX bundle of that student passes the converter's end-to-end check against torch."""
    from t2a_edge.core.bundle import read_manifest
    from t2a_edge.core.model import load_model

    common = ["--data", str(synthetic_corpus), "--preset", "tiny", "--steps", "2", "--batch", "2",
              "--checkpoint-every", "2", "--quiet"]
    teacher, student = tmp_path / "teacher", tmp_path / "student"
    code, _, err = cli(["train", "teacher", "--out", str(teacher), "--init", str(tiny_runs["codec"]),
                        "--rope-dims", "8", "--local-kernel", "3", "--patch", "4"] + common)
    assert code == 0, err
    stored = log_records(teacher)[0]["settings"]  # stored, so --resume keeps them
    assert (stored["rope_dims"], stored["patch"]) == (8, 4)
    code, _, err = cli(["train", "student", "--out", str(student), "--init", str(teacher)] + common)
    assert code == 0, err
    student_cfg = load_model(student / "model").cfg
    assert (student_cfg.backbone.rope_dims, student_cfg.backbone.local_kernel) == (8, 3)
    assert student_cfg.patch == 4 and student_cfg.token_dim == 4 * student_cfg.codec.latent_dim
    for flag in ("--rope-dims", "--patch"):
        code, _, err = cli(["train", "student", "--out", str(tmp_path / "s2"), "--init", str(teacher),
                            flag, "8"] + common)
        assert code != 0 and "teacher settings" in err and "Traceback" not in err
    code, _, err = cli(["train", "teacher", "--out", str(tmp_path / "t2"), "--init", str(tiny_runs["codec"]),
                        "--local-kernel", "4"] + common)
    assert code != 0 and "local_kernel must be odd" in err and "Traceback" not in err
    bundle = tmp_path / "bundle"
    code, _, err = cli(["convert", "--model", str(student), "--backend", "onnx", "--precision", "fp32",
                        "--out", str(bundle)])
    assert code == 0, err
    assert read_manifest(bundle)["parity"]["end_to_end"]["snr_db"] >= E2E_SNR_DB


def test_codec_frame_shape_from_the_cli_reaches_the_codec_and_its_teacher(synthetic_corpus, tmp_path, tiny_runs, cli):
    """`train codec --downsample --latent-dim` shape the codec (stored, so --resume keeps them); its
    teacher tokenises with that codec, and a teacher or student refuses the codec settings."""
    from t2a_edge.core.model import load_model

    common = ["--data", str(synthetic_corpus), "--preset", "tiny", "--steps", "2", "--batch", "2",
              "--checkpoint-every", "2", "--quiet"]
    codec, teacher = tmp_path / "codec", tmp_path / "teacher"
    code, _, err = cli(["train", "codec", "--out", str(codec), "--downsample", "4", "--latent-dim", "6",
                        "--crop-seconds", "0.5"] + common)
    assert code == 0, err
    stored = log_records(codec)[0]["settings"]
    assert (stored["downsample"], stored["latent_dim"]) == (4, 6)
    codec_cfg = load_model(codec / "model").cfg.codec
    assert (codec_cfg.downsample, codec_cfg.latent_dim, codec_cfg.frame_samples) == (4, 6, 4 * codec_cfg.hop)
    code, _, err = cli(["train", "teacher", "--out", str(teacher), "--init", str(codec)] + common)
    assert code == 0, err
    teacher_cfg = load_model(teacher / "model").cfg
    assert teacher_cfg.codec == codec_cfg and teacher_cfg.token_dim == 2 * 6
    code, _, err = cli(["generate", "a dog barks", "--model", str(teacher), "--seconds", "0.5", "--steps", "2",
                        "--teacher-steps", "2", "--output", str(tmp_path / "dog.wav")])
    assert code == 0, err
    assert (tmp_path / "dog.wav").stat().st_size > 1000
    for stage, init in (("teacher", codec), ("student", teacher)):
        code, _, err = cli(["train", stage, "--out", str(tmp_path / f"{stage}2"), "--init", str(init),
                            "--downsample", "8"] + common)
        assert code != 0 and "codec settings" in err and "Traceback" not in err


def test_summary_position_leads_each_example_and_is_weighted_and_revealed_as_asked():
    """A summary model's batch starts with the mean of each clip's own tokens (padding left out), always
    valid and scored SUMMARY_WEIGHT times a token; `summary_share` reveals it alone, every token hidden."""
    from types import SimpleNamespace

    import numpy as np

    from t2a_edge.core.config import preset
    from t2a_edge.train.data import TokenBank
    from t2a_edge.train.stages import SUMMARY_WEIGHT, make_batch

    bank = TokenBank.__new__(TokenBank)
    bank.tokens = [torch.arange(48.0).view(12, 4), torch.arange(20.0).view(5, 4) + 100]
    bank.shifted = [[], []]
    bank.silence = torch.full((4,), -7.0)
    bank.clips = [SimpleNamespace(captions=["long"]), SimpleNamespace(captions=["short"])]
    bank.caption_index = {"long": 0, "short": 1}
    bank.text, bank.text_mask = torch.zeros(2, 3, 8), torch.ones(2, 3)
    bank.max_tokens, bank.summary = 12, True
    rng = np.random.default_rng(0)
    while True:  # a batch led by the long clip that also holds the short one
        batch = bank.batch(rng, 6)
        if batch["tokens"].shape[1] == 13 and (batch["valid"].sum(1) == 6).any():
            break
    assert batch["valid"][:, 0].eq(1).all()
    for row in range(6):
        own = batch["valid"][row, 1:] > 0
        assert torch.allclose(batch["tokens"][row, 0], batch["tokens"][row, 1:][own].mean(0))
    short = int(torch.nonzero(batch["valid"].sum(1) == 6)[0])
    assert torch.allclose(batch["tokens"][short, 0], bank.tokens[1].mean(0))  # not pulled toward the silence

    cfg = dataclasses.replace(preset("tiny"), summary_token=True)
    data = SimpleNamespace(batch=lambda rng, b, **_: batch)
    gen = torch.Generator().manual_seed(0)
    hidden = make_batch(Settings(stage="student", preset="tiny", batch=6, full_mask_share=1.0), cfg, data, rng, gen)
    assert hidden["mask"].eq(1).all() and hidden["loss_mask"][:, 0].eq(SUMMARY_WEIGHT).all()
    assert hidden["loss_mask"][:, 1:].eq(1).all()
    second = make_batch(Settings(stage="student", preset="tiny", batch=6, summary_share=1.0), cfg, data, rng, gen)
    assert second["mask"][:, 0].eq(0).all() and second["mask"][:, 1:].eq(1).all()
    assert second["loss_mask"][:, 0].eq(0).all()


def test_summary_teacher_from_the_cli_passes_to_its_student_and_converts(synthetic_corpus, tmp_path, tiny_runs, cli):
    """`--summary-token` shapes a teacher; its student keeps the position (and refuses the flag), and an
    ONNX bundle of that student passes the converter's end-to-end check and generates the asked length."""
    from t2a_edge import TextToAudio
    from t2a_edge.core.bundle import read_manifest
    from t2a_edge.core.model import load_model

    common = ["--data", str(synthetic_corpus), "--preset", "tiny", "--steps", "2", "--batch", "2",
              "--checkpoint-every", "2", "--quiet"]
    teacher, student = tmp_path / "teacher", tmp_path / "student"
    code, _, err = cli(["train", "teacher", "--out", str(tmp_path / "t0"), "--init", str(tiny_runs["codec"]),
                        "--summary-share", "0.5"] + common)
    assert code != 0 and "--summary-token" in err and "Traceback" not in err
    code, _, err = cli(["train", "teacher", "--out", str(teacher), "--init", str(tiny_runs["codec"]),
                        "--summary-token", "--summary-share", "0.5"] + common)
    assert code == 0, err
    assert log_records(teacher)[0]["settings"]["summary_token"] is True  # stored, so --resume keeps it
    code, _, err = cli(["train", "student", "--out", str(student), "--init", str(teacher),
                        "--summary-share", "0.5"] + common)
    assert code == 0, err
    config = load_model(student / "model").cfg
    assert config.summary_token and config.tokens_for(1.0) == dataclasses.replace(config, summary_token=False).tokens_for(1.0) + 1
    code, _, err = cli(["train", "student", "--out", str(tmp_path / "s2"), "--init", str(teacher),
                        "--summary-token"] + common)
    assert code != 0 and "teacher settings" in err and "Traceback" not in err
    bundle = tmp_path / "bundle"
    code, _, err = cli(["convert", "--model", str(student), "--backend", "onnx", "--precision", "fp32",
                        "--out", str(bundle)])
    assert code == 0, err
    assert read_manifest(bundle)["parity"]["end_to_end"]["snr_db"] >= E2E_SNR_DB
    audio = TextToAudio.load(str(bundle)).generate("a dog barks", seconds=0.5, steps=2)
    assert audio.samples.shape[-1] == int(0.5 * config.codec.sample_rate)


def converts_with_parity_and_generates(model_dir, tmp_path):
    """The model converts to an fp32 ONNX bundle whose end-to-end parity check passes, and that bundle
    generates a 1 s clip: the sampler fills the hidden positions, so every runtime draws torch's clip."""
    import soundfile as sf

    from t2a_edge.apps.cli import main
    from t2a_edge.core.bundle import read_manifest

    bundle = tmp_path / "bundle"
    main(["convert", "--model", str(model_dir), "--backend", "onnx", "--precision", "fp32", "--out", str(bundle)])
    assert read_manifest(bundle)["parity"]["end_to_end"]["snr_db"] >= E2E_SNR_DB
    wav = tmp_path / "generated.wav"
    main(["generate", "a rising chirp", "--model", str(bundle), "-o", str(wav), "--seconds", "1.0", "--steps", "1"])
    assert len(sf.read(wav)[0]) == 16000


def refused(args, message, capsys):
    """The CLI exits 2 with one line containing `message`, no traceback."""
    from t2a_edge.apps.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and "Traceback" not in err


def test_mask_noise_student_trains_from_the_cli_draws_two_backbone_samples_and_generates(
        synthetic_corpus, tmp_path, tiny_runs, capsys):
    """--mask-noise adds the noise projection to the teacher's backbone, trains, is stored, converts
    with the end-to-end parity check passing, and generates; a teacher refuses it."""
    from t2a_edge.apps.cli import main
    from t2a_edge.core.model import load_model

    out = tmp_path / "noise-student"
    common = ["--data", str(synthetic_corpus), "--preset", "tiny", "--steps", "2", "--batch", "2",
              "--checkpoint-every", "2", "--quiet"]
    main(["train", "student", "--init", str(tiny_runs["teacher"]), "--out", str(out), "--mask-noise",
          "--clip-energy-weight", "1"] + common)
    assert log_records(out)[0]["settings"]["mask_noise"] is True
    student, teacher = load_model(out / "model"), load_model(tiny_runs["teacher"] / "model")
    assert student.cfg.backbone.mask_noise and not teacher.cfg.backbone.mask_noise
    assert hasattr(student.backbone, "noise_proj") and not hasattr(teacher.backbone, "noise_proj")

    converts_with_parity_and_generates(out, tmp_path)
    refused(["train", "teacher", "--init", str(tiny_runs["codec"]), "--out", str(tmp_path / "t"), "--mask-noise"]
            + common, "student settings", capsys)


def test_clip_code_student_trains_its_posterior_from_the_cli_and_generates(synthetic_corpus, tmp_path, tiny_runs,
                                                                            capsys):
    """--clip-code adds the noise projection and a clip encoder to the teacher's backbone, logs the
    code's KL, trains the encoder, converts with the end-to-end parity check passing, and generates;
    a teacher refuses it."""
    from t2a_edge.apps.cli import main
    from t2a_edge.core.model import load_model

    out = tmp_path / "code-student"
    common = ["--data", str(synthetic_corpus), "--preset", "tiny", "--steps", "2", "--batch", "2",
              "--checkpoint-every", "2", "--quiet"]
    main(["train", "student", "--init", str(tiny_runs["teacher"]), "--out", str(out), "--clip-code",
          "--clip-code-kl", "0.05"] + common)
    records = log_records(out)
    assert records[0]["settings"]["clip_code"] is True and records[0]["settings"]["clip_code_kl"] == 0.05
    assert all(r["clip_kl"] >= 0 for r in records if r["event"] == "train")
    student = load_model(out / "model")
    assert student.cfg.backbone.clip_code and not student.cfg.backbone.mask_noise
    # The encoder's output layer starts at zero (q = the prior); two steps of Adam move it.
    assert student.backbone.clip_encoder.out.weight.abs().sum() > 0
    assert student.backbone.code_out.weight.abs().sum() > 0  # the code's direct path, zero at first

    converts_with_parity_and_generates(out, tmp_path)
    refused(["train", "teacher", "--init", str(tiny_runs["codec"]), "--out", str(tmp_path / "t"), "--clip-code"]
            + common, "student settings", capsys)
    refused(["train", "student", "--init", str(tiny_runs["teacher"]), "--out", str(tmp_path / "both"),
             "--clip-code", "--mask-noise"] + common, "choose one", capsys)


def test_clip_encoder_reads_only_a_clips_own_tokens():
    """The posterior's mean and variance change with the clip's valid tokens, not with its padding."""
    from t2a_edge.core.backbone import ClipEncoder

    torch.manual_seed(0)
    encoder = ClipEncoder(6, 16)
    torch.nn.init.normal_(encoder.out.weight)
    tokens = torch.randn(1, 5, 6)
    valid = torch.tensor([[1.0, 1.0, 1.0, 0.0, 0.0]])
    padded_other = tokens.clone()
    padded_other[:, 3:] = torch.randn(1, 2, 6)
    valid_other = tokens.clone()
    valid_other[:, 0] = torch.randn(6)
    mean, logvar = encoder(tokens, valid)
    assert mean.shape == logvar.shape == (1, 1, 6)
    assert torch.allclose(encoder(padded_other, valid)[0], mean)
    assert not torch.allclose(encoder(valid_other, valid)[0], mean)


def tiny_student_with_a_random_head(cfg):
    """A student of `cfg`, a tiny teacher's backbone and a bank serving one fixed batch of two
    6-token clips. The head is drawn at random: a fresh one's output layer is zero, which would
    hide the backbone's state and make both samples equal."""
    from t2a_edge.core.config import preset
    from t2a_edge.core.model import T2AModel

    torch.manual_seed(0)
    model = T2AModel(cfg, diffusion_head=False, energy_head=True).eval()
    teacher = T2AModel(preset("tiny"), diffusion_head=True, energy_head=False).backbone
    n = 6
    data = {"tokens": torch.randn(2, n, cfg.token_dim), "valid": torch.ones(2, n),
            "text": torch.randn(2, cfg.backbone.text_tokens, cfg.backbone.text_dim),
            "text_mask": torch.ones(2, cfg.backbone.text_tokens)}
    with torch.no_grad():
        for p in model.energy_head.parameters():
            torch.nn.init.normal_(p, std=0.1)
    return model, teacher, type("Bank", (), {"batch": lambda self, rng, b, **_: dict(data)})()


def test_clip_code_reaches_the_output_directly_and_is_distilled_without_that_path():
    """A clip code moves the hidden positions' states through its direct path; the distillation term
    compares the states without it to the teacher's, so it does not pull that path back to zero."""
    import dataclasses

    import numpy as np

    from t2a_edge.core.config import preset
    from t2a_edge.train.stages import StudentLoss, make_batch

    tiny = preset("tiny")
    cfg = dataclasses.replace(tiny, backbone=dataclasses.replace(tiny.backbone, clip_code=True))
    model, teacher, bank = tiny_student_with_a_random_head(cfg)
    settings = Settings(stage="student", preset="tiny", batch=2, full_mask_share=1.0)
    batch = make_batch(settings, cfg, bank, np.random.default_rng(0), torch.Generator().manual_seed(0))
    assert batch["c_eps"].shape == (2, 1, cfg.token_dim)
    loss = StudentLoss(model, teacher, settings)
    with torch.no_grad():
        before = loss(batch)
        torch.nn.init.normal_(model.backbone.code_out.weight)
        after = loss(batch)
    assert torch.allclose(before["distill"], after["distill"])
    assert not torch.allclose(before["energy"], after["energy"])


def test_mask_noise_reaches_hidden_positions_only():
    """With mask noise the backbone's states at hidden positions follow the noise in their token input,
    and revealed positions read the token; without it hidden positions ignore the input."""
    import dataclasses

    from t2a_edge.core.backbone import Backbone
    from t2a_edge.core.config import preset

    cfg = preset("tiny")
    torch.manual_seed(0)
    text = torch.randn(1, cfg.backbone.text_tokens, cfg.backbone.text_dim)
    text_mask = torch.ones(1, cfg.backbone.text_tokens)
    known = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    tokens = torch.randn(1, 4, cfg.token_dim)
    other = tokens.clone()
    other[:, 1:] = torch.randn(1, 3, cfg.token_dim)  # a different draw in the hidden positions
    for noisy in (False, True):
        backbone_cfg = dataclasses.replace(cfg.backbone, mask_noise=noisy)
        backbone = Backbone(backbone_cfg, cfg.token_dim, 8).eval()
        with torch.no_grad():
            same = torch.allclose(backbone(text, text_mask, tokens, known), backbone(text, text_mask, other, known))
        assert same is not noisy


def test_student_energy_pays_tau_times_the_spread_of_its_two_samples():
    """--energy-tau reaches the student's loss: its energy rises by (1 - tau) times the mean distance
    between the head's two samples, and nothing else changes."""
    import numpy as np

    from t2a_edge.core.config import preset
    from t2a_edge.train.stages import StudentLoss, make_batch, masked_inputs

    cfg = preset("tiny")
    model, teacher, bank = tiny_student_with_a_random_head(cfg)
    losses = {}
    for tau in (1.0, 0.5):
        settings = Settings(stage="student", preset="tiny", batch=2, full_mask_share=1.0, energy_tau=tau)
        batch = make_batch(settings, cfg, bank, np.random.default_rng(0), torch.Generator().manual_seed(0))
        with torch.no_grad():
            losses[tau] = StudentLoss(model, teacher, settings)(batch)
            z = model.backbone(*masked_inputs(batch, model.backbone))
            spread = (model.energy_head(z, batch["u1"]) - model.energy_head(z, batch["u2"])).norm(dim=-1)
    expected = (spread * batch["loss_mask"]).sum() / batch["loss_mask"].sum()
    assert expected > 0.01
    assert torch.allclose(losses[0.5]["energy"], losses[1.0]["energy"] + 0.5 * expected, atol=1e-4)
    assert torch.allclose(losses[0.5]["distill"], losses[1.0]["distill"])
