"""The benchmark scripts' own arithmetic (their timings are measurements, not tests)."""

import numpy as np

from t2a_edge.apps.benchmarks.loudness import loudness


def test_loudness_counts_quiet_and_clipped_samples_and_the_median_peak():
    quiet = np.full(100, 1e-4, dtype=np.float32)
    loud = np.concatenate([np.full(90, 0.5), np.full(10, 2.0)]).astype(np.float32)
    half = np.full(100, 0.5, dtype=np.float32)
    figures = loudness([quiet, loud, half])
    assert figures["quiet_share"] == 100 / 300
    assert figures["clipped_share"] == 10 / 300
    assert np.isclose(figures["median_peak_db"], 20 * np.log10(0.5))  # peaks -80, +6, -6 dB: the median


def test_phase_speed_reads_iterations_and_momentum_pairs():
    from t2a_edge.apps.benchmarks.phase_speed import parse_variants

    assert parse_variants("4:0,2:0.99,8") == [(4, 0.0), (2, 0.99), (8, 0.0)]
