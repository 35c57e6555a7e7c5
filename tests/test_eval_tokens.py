"""`lab tokens`: clip statistics in token space, real against generated, without the judge."""

from __future__ import annotations

import json

import numpy as np
import pytest

from t2a_edge.apps.lab.token_stats import CategoryCentroids, clip_statistics


def test_clip_statistics_split_the_variance_between_and_within_clips():
    rng = np.random.default_rng(0)
    # Clips whose means differ by +-3 with unit noise inside: the means hold 9 / (9 + 1) of the variance.
    apart = [rng.standard_normal((400, 8)) + sign * 3.0 for sign in (-1, 1) * 20]
    # The same noise with one shared mean: the clip means hold almost nothing.
    alike = [rng.standard_normal((400, 8)) for _ in range(40)]
    a, b = clip_statistics(apart), clip_statistics(alike)
    assert a["clip_mean_share"] == pytest.approx(0.9, abs=0.02)
    assert b["clip_mean_share"] < 0.01
    assert a["within_clip_std"] == pytest.approx(1.0, abs=0.05) and b["within_clip_std"] == pytest.approx(1.0, abs=0.05)
    assert a["clip_mean_spread"] == pytest.approx(3.0, abs=0.1)
    with pytest.raises(ValueError):
        clip_statistics(alike[:1])


def test_category_centroids_name_the_nearest_category_after_standardising():
    # Channel 1 is a thousand times wider than channel 0 but carries no category: unstandardised,
    # it would decide; standardised, channel 0 does.
    rng = np.random.default_rng(1)
    cats = ["a", "b"] * 50
    means = np.stack([[(-1.0 if c == "a" else 1.0) + 0.1 * rng.standard_normal(), 1000.0 * rng.standard_normal()]
                      for c in cats])
    centroids = CategoryCentroids(means, cats)
    assert centroids.names == ["a", "b"]
    assert centroids.accuracy(means, cats) == 1.0
    assert centroids.predict(np.array([[-0.9, 2000.0], [0.8, -1500.0]])) == ["a", "b"]
    assert centroids.accuracy(means, ["b", "a"] * 50) == 0.0


def test_eval_tokens_measures_real_and_generated_rows(tiny_student, tiny_teacher, synthetic_corpus, tmp_path, capsys):
    from t2a_edge.apps.cli import main

    main(["lab", "tokens", "student:K=1", "teacher:K=2,S=2", "--model", str(tiny_student), "--teacher",
          str(tiny_teacher), "--data", str(synthetic_corpus), "--seconds", "1", "--json", str(tmp_path / "t.json"),
          "--table", str(tmp_path / "t.md")])
    result = json.loads((tmp_path / "t.json").read_text())
    rows = result["rows"]
    assert [r["system"] for r in rows] == ["real test clips", "student:K=1", "teacher:K=2,S=2"]
    assert len({r["clips"] for r in rows}) == 1 and rows[0]["clips"] >= 2
    for r in rows:
        assert 0.0 <= r["clip_mean_share"] <= 1.0 and r["within_clip_std"] > 0 and 0.0 <= r["category_accuracy"] <= 1.0
    # The synthetic corpus's kinds are far apart: its real test clips' means mostly sit nearest their own kind.
    assert rows[0]["category_accuracy"] >= 2 * result["chance"]
    assert "clip means' category accuracy" in capsys.readouterr().out
    assert "| student:K=1 |" in (tmp_path / "t.md").read_text()


def test_eval_tokens_refuses_bad_input_in_one_line(tiny_student, tiny_teacher, synthetic_corpus, capsys):
    from t2a_edge.apps.cli import main

    for args, message in ((["--limit", "1"], "--limit must be at least 2"),
                          (["teacher:K=1", "--teacher", None], "needs a teacher model"),
                          (["--pool", "validation"], "has no clips in split 'validation'")):
        args = [str(tiny_student) if a is None else a for a in args]
        with pytest.raises(SystemExit) as exit_info:
            main(["lab", "tokens", "--model", str(tiny_student), "--data", str(synthetic_corpus), *args])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and err.count("\n") == 1
