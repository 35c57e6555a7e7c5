"""`lab coherence`: real training tokens arranged whole, shuffled in time and mixed across a category."""

import json

import numpy as np
import pytest

from t2a_edge.apps.lab.coherence import ARRANGEMENTS, arrange, arrange_runs, run_label, tiled


def pool_of(lengths, dim=3, offset=0):
    """Clips whose tokens name their source: token j of clip i is [offset + i, j, j]."""
    return [np.stack([np.array([offset + i, j, j], np.float32) for j in range(n)]) for i, n in enumerate(lengths)]


def test_tiled_loops_a_short_clip_and_cuts_a_long_one():
    clip = pool_of([3])[0]
    assert tiled(clip, 7)[:, 1].tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert tiled(clip, 2)[:, 1].tolist() == [0, 1]


def test_arrangements_keep_what_each_row_promises():
    pool = pool_of([5, 9, 2, 30])
    rows = arrange(pool, 20, seed=0, item_id="clip-a")
    assert set(rows) == set(ARRANGEMENTS)
    clip, shuffled, mixed = rows["clip"], rows["shuffled"], rows["mixed"]
    assert len(set(clip[:, 0])) == 1  # one source clip, in its own order
    source = pool[int(clip[0, 0])]
    assert np.array_equal(clip, tiled(source, 20))
    # the same tokens, another order
    assert sorted(map(tuple, shuffled)) == sorted(map(tuple, clip)) and not np.array_equal(shuffled, clip)
    # every mixed token is a real token of the pool, drawn from several clips
    assert all(0 <= t[1] < len(pool[int(t[0])]) for t in mixed)
    assert len(set(mixed[:, 0])) > 1


def test_runs_are_stretches_of_one_clip_each_from_several_clips():
    pool = pool_of([5, 9, 2, 30])
    runs = arrange_runs(pool, 22, 4, seed=0, item_id="clip-a")
    assert runs.shape == (22, 3)
    for start in range(0, 22, 4):
        run = runs[start:start + 4]
        source = pool[int(run[0, 0])]
        assert len(set(run[:, 0])) == 1  # one clip per run ...
        looped = tiled(source, len(source) + 4)
        first = int(run[0, 1])
        assert np.array_equal(run, looped[first:first + len(run)])  # ... in its own order
    assert len(set(runs[::4, 0])) > 1
    assert np.array_equal(arrange_runs(pool, 22, 4, seed=0, item_id="clip-a"), runs)
    assert not np.array_equal(arrange_runs(pool, 22, 4, seed=1, item_id="clip-a"), runs)


def test_arrangements_are_fixed_by_seed_and_id():
    pool = pool_of([40, 40, 40])
    again = arrange(pool, 25, seed=0, item_id="x")
    for key, value in arrange(pool, 25, seed=0, item_id="x").items():
        assert np.array_equal(value, again[key])
    assert not np.array_equal(arrange(pool, 25, seed=1, item_id="x")["mixed"], again["mixed"])
    assert not np.array_equal(arrange(pool, 25, seed=0, item_id="y")["mixed"], again["mixed"])


def test_eval_coherence_scores_the_rows(tiny_student, synthetic_corpus, cache_root, monkeypatch, tmp_path, capsys):
    from t2a_edge.apps.cli import main

    monkeypatch.setenv("T2A_EDGE_CACHE", str(cache_root))
    main(["lab", "coherence", "--model", str(tiny_student), "--data", str(synthetic_corpus), "--seconds", "1",
          "--runs", "3", "--out", str(tmp_path / "clips"), "--json", str(tmp_path / "c.json")])
    result = json.loads((tmp_path / "c.json").read_text())
    rows = result["rows"]
    assert [r["system"] for r in rows[2:]] == list(ARRANGEMENTS.values()) + [run_label(3)]
    assert rows[1]["system"] == "codec reconstruction (ceiling)"
    assert len({r["clips"] for r in rows}) == 1 and rows[0]["clips"] > 0
    assert all(np.isfinite(r["fad"]) for r in rows[1:])
    # each arranged clip is the asked-for length: one second of tokens
    first = sorted((tmp_path / "clips" / "mixed").iterdir())[0]
    import soundfile as sf
    assert sf.info(first).duration == pytest.approx(1.0, abs=0.05)
    assert "tokens mixed across the category" in capsys.readouterr().out


def test_eval_coherence_refuses_bad_run_lengths(tiny_student, synthetic_corpus, cache_root, monkeypatch, capsys):
    from t2a_edge.apps.cli import main

    monkeypatch.setenv("T2A_EDGE_CACHE", str(cache_root))
    for runs in ("2,x", "0"):
        with pytest.raises(SystemExit) as exit_info:
            main(["lab", "coherence", "--model", str(tiny_student), "--data", str(synthetic_corpus), "--runs", runs])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert "--runs" in err and "Traceback" not in err and err.count("\n") == 1


def test_eval_coherence_refuses_an_empty_pool(tiny_student, synthetic_corpus, cache_root, monkeypatch, capsys):
    from t2a_edge.apps.cli import main

    monkeypatch.setenv("T2A_EDGE_CACHE", str(cache_root))
    with pytest.raises(SystemExit) as exit_info:
        main(["lab", "coherence", "--model", str(tiny_student), "--data", str(synthetic_corpus),
              "--pool", "validation"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "has no clips in split 'validation'" in err and "Traceback" not in err and err.count("\n") == 1

