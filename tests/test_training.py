"""The three trainers end to end, exact resume, interruption, and multi-process DDP."""

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
    bank.trim_text = False
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
    bank.trim_text = False
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



def test_teacher_backbone_and_patch_from_the_cli_pass_to_its_student_and_convert(synthetic_corpus, tmp_path,
                                                                                   tiny_runs, cli):
    """`--rope-dims` and `--patch` shape a teacher; its student keeps them (and refuses
    its own), and an ONNX bundle of that student passes the converter's end-to-end check against torch."""
    from t2a_edge.core.bundle import read_manifest
    from t2a_edge.core.model import load_model

    common = ["--data", str(synthetic_corpus), "--preset", "tiny", "--steps", "2", "--batch", "2",
              "--checkpoint-every", "2", "--quiet"]
    teacher, student = tmp_path / "teacher", tmp_path / "student"
    code, _, err = cli(["train", "teacher", "--out", str(teacher), "--init", str(tiny_runs["codec"]),
                        "--rope-dims", "4", "--patch", "4"] + common)
    assert code == 0, err
    stored = log_records(teacher)[0]["settings"]  # stored, so --resume keeps them
    assert (stored["rope_dims"], stored["patch"]) == (4, 4)
    code, _, err = cli(["train", "student", "--out", str(student), "--init", str(teacher)] + common)
    assert code == 0, err
    student_cfg = load_model(student / "model").cfg
    assert student_cfg.backbone.rope_dims == 4
    assert student_cfg.patch == 4 and student_cfg.token_dim == 4 * student_cfg.codec.latent_dim
    for flag in ("--rope-dims", "--patch"):
        code, _, err = cli(["train", "student", "--out", str(tmp_path / "s2"), "--init", str(teacher),
                            flag, "8"] + common)
        assert code != 0 and "teacher settings" in err and "Traceback" not in err
    code, _, err = cli(["train", "teacher", "--out", str(tmp_path / "t2"), "--init", str(tiny_runs["codec"]),
                        "--rope-dims", "3"] + common)
    assert code != 0 and "rope_dims must be even" in err and "Traceback" not in err
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


