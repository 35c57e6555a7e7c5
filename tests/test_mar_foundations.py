"""MAR's foundations in the backbone and the training batches: positions, padding, length, captions,
per-token timesteps, heads on scored positions only, length buckets, precision, retired variants."""

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from t2a_edge.core.backbone import Backbone
from t2a_edge.core.config import ModelConfig, preset
from t2a_edge.core.diffusion import Diffusion
from t2a_edge.core.errors import T2AError
from t2a_edge.core.heads import DiffusionHead, diffusion_loss
from t2a_edge.train.data import TokenBank
from t2a_edge.train.stages import Settings, TeacherLoss, make_batch, masked_inputs

CFG = preset("tiny")


def backbone(seed: int = 0, **changes) -> Backbone:
    torch.manual_seed(seed)
    return Backbone(dataclasses.replace(CFG.backbone, **changes), CFG.token_dim, CFG.max_tokens).eval()


def inputs(n: int = 10, length: int = 4, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    text = torch.randn(2, CFG.backbone.text_tokens, 384, generator=gen)
    mask = torch.zeros(2, CFG.backbone.text_tokens)
    mask[:, :length] = 1.0
    tokens = torch.randn(2, n, CFG.token_dim, generator=gen)
    known = (torch.rand(2, n, generator=gen) < 0.5).float()
    return text, mask, tokens, known


def test_the_presets_train_with_mar_inputs_and_rotary_positions():
    for name in ("tiny", "small"):
        cfg = preset(name).backbone
        assert cfg.mar_inputs and cfg.rope_dims > 0


@torch.no_grad()
def test_padding_is_hidden_from_attention_and_the_length_is_a_condition():
    bb = backbone()
    text, mask, tokens, known = inputs()
    valid = torch.ones(2, 10)
    valid[:, 7:] = 0.0
    z = bb(text, mask, tokens, known, valid)
    changed = tokens.clone()
    changed[:, 7:] += 10.0  # padding: whatever it holds, the clip's own positions read nothing of it
    known_pad = known.clone()
    known_pad[:, 7:] = 1.0
    assert torch.allclose(bb(text, mask, changed, known_pad, valid)[:, :7], z[:, :7], atol=1e-5)
    # The same seven tokens alone (no padding at all) give the same states: padding is invisible.
    assert torch.allclose(bb(text, mask, tokens[:, :7], known[:, :7])[:, :7], z[:, :7], atol=1e-4)
    # A model without MAR's inputs attends to the padding, as models before it did.
    old = backbone(mar_inputs=False)
    assert not torch.allclose(old(text, mask, changed, known_pad, valid)[:, :7], old(text, mask, tokens, known, valid)[:, :7],
                              atol=1e-3)
    # The clip's length reaches every position: the same tokens said to be a longer clip give other states.
    with torch.no_grad():
        bb.duration_in.weight.normal_(std=0.5)
    assert not torch.allclose(bb(text, mask, tokens, known, valid)[:, :7],
                              bb(text, mask, tokens, known, torch.ones(2, 10))[:, :7], atol=1e-3)


@torch.no_grad()
def test_revealed_tokens_are_not_a_bag_and_the_position_reaches_the_output():
    bb = backbone()
    text, mask, tokens, known = inputs(n=6)
    known = torch.tensor([[1.0, 1.0, 1.0, 0.0, 1.0, 1.0]] * 2)
    reordered = tokens[:, [4, 0, 5, 3, 1, 2]]
    assert not torch.allclose(bb(text, mask, tokens, known)[:, 3], bb(text, mask, reordered, known)[:, 3], atol=1e-3)
    # Two hidden positions with nothing revealed differ only by where they sit.
    nothing = torch.zeros(2, 6)
    z = bb(text, mask, tokens, nothing)
    assert not torch.allclose(z[:, 1], z[:, 2], atol=1e-3)


@torch.no_grad()
def test_a_caption_cut_to_its_length_and_the_null_caption_read_as_at_full_length():
    bb = backbone()
    text, mask, tokens, known = inputs(length=4)
    full = bb(text, mask, tokens, known)
    assert torch.allclose(bb(text[:, :4], mask[:, :4], tokens, known), full, atol=1e-4)
    null, null_mask = bb.null_like(text)
    null_cut, null_mask_cut = bb.null_like(text[:, :3])
    assert null_mask.sum(1).tolist() == [1.0, 1.0] and null_mask_cut.sum(1).tolist() == [1.0, 1.0]
    assert torch.allclose(bb(null_cut, null_mask_cut, tokens, known), bb(null, null_mask, tokens, known), atol=1e-4)


def fake_bank(lengths, trim_text=True):
    bank = TokenBank.__new__(TokenBank)
    bank.tokens = [torch.full((n, CFG.token_dim), float(i)) for i, n in enumerate(lengths)]
    bank.silence = torch.zeros(CFG.token_dim)
    bank.clips = [SimpleNamespace(captions=[f"c{i}"], category="x") for i in range(len(lengths))]
    bank.caption_index = {f"c{i}": i for i in range(len(lengths))}
    words = torch.tensor([2 + i % 5 for i in range(len(lengths))])
    bank.text = torch.randn(len(lengths), 16, 384).half()
    bank.text_mask = (torch.arange(16)[None] < words[:, None]).float()
    bank.max_tokens = CFG.max_tokens
    bank.trim_text = trim_text
    clipped = np.array([min(n, bank.max_tokens) for n in lengths])
    bank.by_length = np.argsort(clipped, kind="stable")
    bank.length_rank = np.argsort(bank.by_length, kind="stable")
    return bank


def test_length_buckets_cut_the_padding_and_captions_carry_only_their_words():
    rng = np.random.default_rng(0)
    lengths = rng.integers(4, CFG.max_tokens, size=200).tolist()
    bank = fake_bank(lengths)

    def padding(buckets):
        rng = np.random.default_rng(1)
        valid = [bank.batch(rng, 8, buckets=buckets)["valid"] for _ in range(60)]
        return 1 - sum(v.sum() for v in valid) / sum(v.numel() for v in valid)

    assert padding(True) < 0.5 * padding(False)
    drawn = bank.batch(np.random.default_rng(2), 8, buckets=True)
    rows = [int(t[0, 0]) for t in drawn["tokens"]]
    assert drawn["text"].shape[1] == int(bank.text_mask[rows].sum(1).max())  # the longest caption, no more
    assert drawn["text_mask"][:, -1].max() == 1.0
    # Every clip is still drawn.
    seen = set()
    rng = np.random.default_rng(3)
    for _ in range(400):
        seen.update(int(t[0, 0]) for t in bank.batch(rng, 8, buckets=True)["tokens"])
    assert len(seen) > 190


def test_teacher_timesteps_are_per_token_and_the_head_runs_on_scored_positions_only():
    torch.manual_seed(0)
    from t2a_edge.core.model import T2AModel

    model = T2AModel(CFG, diffusion_head=True, energy_head=False)
    settings = Settings(stage="teacher", preset="tiny", batch=4)
    bank = fake_bank([7, 9, 12, 30, 41, 45])
    batch = make_batch(settings, CFG, bank, np.random.default_rng(0), torch.Generator().manual_seed(0))
    mul, b, n = batch["t"].shape
    assert (mul, b) == (CFG.head.diffusion_batch_mul, 4) and n == batch["tokens"].shape[1]
    assert (batch["t"] != batch["t"][..., :1]).any(dim=-1).all()  # no row holds one timestep throughout
    assert batch["loss_mask"].sum() < batch["mask"].numel()

    calls = []
    head = model.diffusion_head
    original = head.forward
    head.forward = lambda x, t, z: calls.append(x.shape[0]) or original(x, t, z)
    loss = TeacherLoss(model, settings)
    value = loss(batch)["diffusion"]
    assert calls == [mul * int((batch["loss_mask"] > 0).sum())]
    # The same loss with the head at every position, weighted by the loss mask.
    z = model.backbone(*masked_inputs(batch, model.backbone))
    x0 = batch["tokens"].expand(mul, -1, -1, -1)
    x_t = Diffusion(CFG.head.diffusion_steps).add_noise(x0, batch["t"], batch["noise"])
    eps = original(x_t.flatten(0, 1), batch["t"].flatten(0, 1), z.repeat(mul, 1, 1))
    reference = diffusion_loss(eps, batch["noise"].flatten(0, 1), batch["loss_mask"].repeat(mul, 1))
    assert torch.allclose(value, reference, atol=1e-5)
    assert isinstance(head, DiffusionHead)


def test_precision_is_decided_at_start_printed_and_kept_for_the_resume(synthetic_corpus, tmp_path, tiny_runs, capfd):
    from t2a_edge.train.loop import autocast_precision, train

    out = tmp_path / "teacher"
    settings = Settings(stage="teacher", preset="tiny", steps=2, batch=2, init=str(tiny_runs["codec"]),
                        checkpoint_every=2)
    train(settings, str(synthetic_corpus), out, show_progress=False, until_step=1)
    chosen = autocast_precision(torch.device("cpu"))
    assert f"precision: {chosen}" in capfd.readouterr().out
    stored = json.loads((out / "train.log").read_text().splitlines()[0])["settings"]
    assert stored["precision"] == chosen
    train(dataclasses.replace(settings, precision="auto"), str(synthetic_corpus), out, resume=True,
          show_progress=False)
    assert json.loads((out / "checkpoints").joinpath(sorted(p.name for p in (out / "checkpoints").iterdir())[-1],
                                                     "state.json").read_text())["settings"]["precision"] == chosen


def test_bf16_training_steps_and_its_loss_stays_near_fp32s(synthetic_corpus, tmp_path, tiny_runs):
    from t2a_edge.train.loop import train

    losses = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / precision
        settings = Settings(stage="teacher", preset="tiny", steps=3, batch=4, init=str(tiny_runs["codec"]),
                            precision=precision, log_every=1)
        train(settings, str(synthetic_corpus), out, show_progress=False)
        records = [json.loads(line) for line in (out / "train.log").read_text().splitlines()]
        losses[precision] = [r["loss"] for r in records if r["event"] == "train"]
    assert all(np.isfinite(losses["bf16"]))
    assert losses["bf16"][0] == pytest.approx(losses["fp32"][0], rel=0.05)


def test_a_model_using_a_dropped_variant_is_refused_in_one_line_and_one_naming_it_off_loads():
    data = CFG.to_dict()
    data["backbone"] = {**data["backbone"], "mask_noise": False, "local_kernel": 0}
    data["head"] = {**data["head"], "clip_noise_dim": 0}
    assert ModelConfig.from_dict({**data, "summary_token": False}) == CFG
    data["backbone"]["mask_noise"] = True
    with pytest.raises(T2AError, match="backbone.mask_noise, dropped from t2a-edge") as info:
        ModelConfig.from_dict(data)
    assert "\n" not in str(info.value)


def test_the_dropped_training_options_are_gone_from_the_cli():
    from click.testing import CliRunner

    from t2a_edge.apps.cli import cli

    result = CliRunner().invoke(cli, ["train", "teacher", "--help"])
    assert result.exit_code == 0
    for flag in ("--clip-code", "--mask-noise", "--local-kernel", "--clip-noise", "--summary-token",
                 "--teacher-draws", "--timestep-power", "--shift-views", "--energy-tau"):
        assert flag not in result.output
    for flag in ("--precision", "--length-buckets", "--time-limit"):
        assert flag in result.output
