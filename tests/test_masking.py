"""Masking schedules: training ratios and the cosine generation schedule."""

import math

import pytest
import torch

from t2a_edge.core.masking import cfg_scale, cfg_schedule, masked_after, reveal_counts, training_mask


@pytest.mark.parametrize("steps,n", [(1, 10), (4, 250), (8, 250), (64, 250), (64, 13), (300, 10), (2, 2)])
def test_reveal_counts_cover_every_token_once(steps, n):
    counts = reveal_counts(steps, n)
    assert sum(counts) == n
    assert min(counts) >= 1
    assert len(counts) == min(steps, n)


def test_single_step_reveals_everything_at_once():
    assert reveal_counts(1, 250) == [250]


def test_reveal_counts_follow_the_cosine_schedule():
    n, steps = 250, 8
    counts = reveal_counts(steps, n)
    unknown = n
    for k, count in enumerate(counts[:-1]):
        unknown -= count
        assert unknown == max(min(math.floor(n * math.cos(math.pi / 2 * (k + 1) / steps)), unknown + count - 1), 0)
    assert masked_after(steps - 1, steps, n) == 0
    assert counts == sorted(counts)  # cosine: few tokens first, more later


def test_training_mask_ratio_between_0_7_and_1():
    gen = torch.Generator().manual_seed(0)
    mask = training_mask(500, 40, gen)
    ratios = mask.mean(1)
    assert mask.shape == (500, 40)
    assert ratios.min() >= 0.7 - 1e-6 and ratios.max() <= 1.0
    assert 0.85 < ratios.mean() < 0.95  # truncnorm(1, 0.25) on [0.7, 1] has mean ~0.87-0.9


def test_cfg_grows_linearly_with_revealed_share():
    assert cfg_scale(3.0, 0, 100) == 1.0
    assert cfg_scale(3.0, 50, 100) == 2.0
    assert cfg_scale(3.0, 100, 100) == 3.0


def test_cfg_schedule_counts_the_step_s_own_tokens():
    """MAR's schedule: the last step is fully guided, and so is a one-step generation."""
    assert cfg_schedule(5.0, 1, 125) == [5.0]
    scales = cfg_schedule(3.0, 8, 100)
    assert len(scales) == 8 and scales[-1] == 3.0 and scales[0] > 1.0
    assert all(a < b for a, b in zip(scales, scales[1:]))


def test_full_mask_share_hides_every_token_of_that_share_and_leaves_the_default_stream_alone():
    plain = training_mask(400, 40, torch.Generator().manual_seed(3))
    assert torch.equal(plain, training_mask(400, 40, torch.Generator().manual_seed(3), full_share=0.0))
    full = (plain.sum(1) == 40).float().mean().item()
    mixed = training_mask(400, 40, torch.Generator().manual_seed(3), full_share=0.5)
    share = (mixed.sum(1) == 40).float().mean().item()
    assert abs(share - (0.5 + 0.5 * full)) < 0.1 and share > full + 0.25  # half forced, the rest as before
    assert (mixed.sum(1) >= 28).all()  # the others keep MAR's ratio
    assert (training_mask(50, 40, torch.Generator().manual_seed(4), full_share=1.0) == 1).all()


def test_cosine_schedule_trains_the_states_the_sampler_visits():
    hidden = training_mask(2000, 100, torch.Generator().manual_seed(5), schedule="cosine").mean(1)
    assert abs(hidden.mean().item() - 2 / math.pi) < 0.03  # E cos(pi/2 u) = 2/pi
    assert (hidden < 0.3).float().mean().item() > 0.15  # mostly-visible states MAR's ratio never gives
    assert (hidden >= 0.01).all()  # at least one token is always a target
    mar = training_mask(2000, 100, torch.Generator().manual_seed(5)).mean(1)
    assert (mar >= 0.7).all()
    with pytest.raises(ValueError, match="mask schedule"):
        training_mask(4, 10, torch.Generator(), schedule="uniform")


def test_anchors_reveal_a_few_tokens_first_then_follow_the_schedule():
    assert reveal_counts(2, 125, anchors=4) == [4, 121]
    assert reveal_counts(5, 125, anchors=1) == [1] + reveal_counts(4, 124)
    assert reveal_counts(1, 125, anchors=4) == [125]  # one step has nothing to build on
    assert reveal_counts(3, 5, anchors=5) == reveal_counts(3, 5)  # anchors must leave tokens to draw
    assert cfg_schedule(3.0, 2, 100, anchors=10) == [1.2, 3.0]
