"""The benchmark scripts' own arithmetic (their timings are measurements, not tests)."""

import numpy as np

from t2a_edge.apps.lab.loudness import loudness


def test_loudness_counts_quiet_and_clipped_samples_and_the_median_peak():
    quiet = np.full(100, 1e-4, dtype=np.float32)
    loud = np.concatenate([np.full(90, 0.5), np.full(10, 2.0)]).astype(np.float32)
    half = np.full(100, 0.5, dtype=np.float32)
    figures = loudness([quiet, loud, half])
    assert figures["quiet_share"] == 100 / 300
    assert figures["clipped_share"] == 10 / 300
    assert np.isclose(figures["median_peak_db"], 20 * np.log10(0.5))  # peaks -80, +6, -6 dB: the median


def test_phase_speed_reads_iterations_and_momentum_pairs():
    from t2a_edge.apps.lab.phase_speed import parse_variants

    assert parse_variants("4:0,2:0.99,8") == [(4, 0.0), (2, 0.99), (8, 0.0)]


def test_phase_speed_times_the_smoothing_only_when_it_runs(tiny_student, capsys):
    from t2a_edge.apps.lab.phase_speed import main

    args = ["--model", str(tiny_student), "--seconds", "1", "--rounds", "2", "--variants", "2:0.99"]
    main(args + ["--smooth", "50"])
    out = capsys.readouterr().out
    assert "2 | 0.99 |" in out and "loudness smoothing before the phase, 50 ms (5 frames)" in out
    main(args)  # the tiny model records no smoothing: none is timed
    assert "loudness smoothing" not in capsys.readouterr().out
