"""`t2a-edge lab heldout`: the stage loss on unseen clips under the clip's caption, another's and none."""

from __future__ import annotations

import json
import math

import pytest


def test_heldout_loss_for_teacher_and_student(tiny_runs, synthetic_corpus, tmp_path):
    from t2a_edge.apps.cli import main
    from t2a_edge.train.heldout import heldout_loss

    for stage, key in (("teacher", "diffusion"), ("student", "energy")):
        out = tmp_path / f"{stage}.json"
        main(["lab", "heldout", "--model", str(tiny_runs[stage]), "--data", str(synthetic_corpus),
              "--batches", "3", "--json", str(out)])
        result = json.loads(out.read_text())
        assert result["kind"] == stage and result["loss"] == key and result["clips"] > 0
        assert all(math.isfinite(result[k]) and result[k] > 0 for k in ("own", "other", "null"))
        assert result["own"] != result["null"]  # the caption reaches the loss
        assert result["caption_gain"] == pytest.approx((result["null"] - result["own"]) / result["null"])
        # Fixed batches: the same model gives the same figure on every run.
        again = heldout_loss(tiny_runs[stage] / "model", str(synthetic_corpus), batches=3)
        assert again["own"] == result["own"] and again["null"] == result["null"]


def test_heldout_refuses_a_codec_and_bad_counts(tiny_runs, synthetic_corpus, capsys):
    from t2a_edge.apps.cli import main

    for args, message in ((["--model", str(tiny_runs["codec"])], "is a codec"),
                          (["--model", str(tiny_runs["student"]), "--batches", "0"], "--batches must be at least 1")):
        with pytest.raises(SystemExit) as exit_info:
            main(["lab", "heldout", "--data", str(synthetic_corpus), *args])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err


def test_hidden_share_replaces_the_training_masks(tiny_runs, synthetic_corpus, tmp_path):
    """--hidden-share 1 is the one-step state (the default full mask); a smaller share scores fewer,
    different positions with the rest revealed, and is recorded."""
    from t2a_edge.apps.cli import main
    from t2a_edge.train.heldout import heldout_loss

    folder = tiny_runs["teacher"] / "model"
    everything = heldout_loss(folder, str(synthetic_corpus), batches=3, hidden_share=1.0)
    assert everything["own"] == heldout_loss(folder, str(synthetic_corpus), batches=3)["own"]
    out = tmp_path / "tenth.json"
    main(["lab", "heldout", "--model", str(tiny_runs["teacher"]), "--data", str(synthetic_corpus),
          "--batches", "3", "--hidden-share", "0.1", "--json", str(out)])
    tenth = json.loads(out.read_text())
    assert tenth["hidden_share"] == 0.1 and math.isfinite(tenth["own"]) and tenth["own"] != everything["own"]
