"""core.envelope: loudness smoothed along time, each frame's spectral shape kept."""

import numpy as np
import pytest

from t2a_edge.core.envelope import smooth_along_time, smooth_loudness, window_frames


@pytest.mark.parametrize("ms,frames", [(0, 1), (15, 1), (20, 1), (30, 3), (50, 5), (59, 5), (70, 7)])
def test_window_is_the_longest_odd_frame_count_within_the_time(ms, frames):
    assert window_frames(ms, 0.01) == frames


def test_smoothing_keeps_a_constant_and_averages_a_flicker():
    flat = np.full((2, 1, 40), 3.0, np.float32)
    np.testing.assert_allclose(smooth_along_time(flat, 5), flat, rtol=1e-6)
    flicker = np.tile(np.array([1.0, -1.0], np.float32), 20)[None, None]  # a 2-frame jump, like independent tokens
    assert np.abs(smooth_along_time(flicker, 5)).max() < 0.35
    assert smooth_along_time(flicker, 1) is flicker


def test_loudness_is_smoothed_and_the_spectral_shape_of_each_frame_kept():
    rng = np.random.default_rng(0)
    shape = rng.normal(0, 1, (1, 321, 1)).astype(np.float32)  # one spectral shape
    loudness = np.where(np.arange(200) // 4 % 2, 2.0, -2.0).astype(np.float32)[None, None]  # jumps every 40 ms
    magnitude = np.exp(shape + loudness + rng.normal(0, 0.1, (1, 321, 200))).astype(np.float32)
    out = smooth_loudness(magnitude, 5)
    assert out.dtype == np.float32 and out.shape == magnitude.shape
    before, after = (np.log(m).mean(axis=1) for m in (magnitude, out))
    assert np.abs(np.diff(after)).max() < 0.6 * np.abs(np.diff(before)).max()
    np.testing.assert_allclose(np.log(out) - after[:, None], np.log(magnitude) - before[:, None], atol=1e-4)
    assert smooth_loudness(magnitude, 1) is magnitude
