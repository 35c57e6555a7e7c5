"""`t2a-edge bench`: every backend in its own process, timed in interleaved rounds; a table, JSON, a PNG,
and the record auto reads.

No timing is asserted (the machine is shared); the test checks that everything is measured and
reported, that the ONNX Runtime worker never imports torch, and that drift is measured against torch.
"""

from __future__ import annotations

import json
import platform

import pytest

from t2a_edge.convert.export import random_student
from t2a_edge.core.model import save_model
from t2a_edge.runtimes import select


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("T2A_EDGE_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "model"
    save_model(random_student("tiny", seed=3), folder, extra={"random_weights": True})
    return folder


def test_bench_measures_reports_and_records(model_dir, tmp_path, cli, monkeypatch):
    out_json, out_png = tmp_path / "bench.json", tmp_path / "bench.png"
    code, out, err = cli(["bench", "--model", str(model_dir), "--backends", "torch,onnx,coreml",
                          "--precisions", "fp32", "--seconds", "1", "--batch", "1,2", "--runs", "2",
                          "--steps", "2", "--json", str(out_json), "--plot", str(out_png)])
    assert code == 0, err
    assert "(random weights)" in out and "RTF" in out and "fastest fp32:" in out
    result = json.loads(out_json.read_text())
    rows = {(r["backend"], r["precision"]): r for r in result["rows"]}
    assert result["random_weights"] is True and result["settings"]["steps"] == 2
    for key in (("torch", "fp32"), ("onnx", "fp32")):
        row = rows[key]
        assert "error" not in row, row
        assert row["load_cold_s"] > 0 and row["load_warm_s"] > 0 and row["first_call_s"] > 0
        assert row["latency_s"]["n"] == 2 and row["latency_s"]["p25"] <= row["latency_s"]["p75"]
        assert set(row["components_s"]) == {"text", "steps", "decode"}
        assert set(row["throughput"]) == {"1", "2"} and row["throughput"]["2"]["clips_per_second"] > 0
        assert row["rtf"] > 0 and row["peak_rss_mb"] > 0 and row["speedup_vs_torch"] > 0
    assert rows["torch", "fp32"]["torch_imported"] is True
    assert rows["onnx", "fp32"]["torch_imported"] is False  # its RSS is its own
    assert rows["onnx", "fp32"]["bundle_bytes"] > 0 and rows["torch", "fp32"]["model_bytes"] > 0
    assert rows["onnx", "fp32"]["drift"]["snr_db"] >= 30.0
    assert rows["torch", "fp32"]["drift"]["snr_db"] >= 60.0  # the reference against itself, another process
    # Interleaved: every round at batch 1 times each backend once, the order rotating round to round,
    # so a drifting machine slows them alike.
    rounds = [[(b, p) for b, p, batch, r in result["schedule"] if batch == 1 and r == k] for k in range(2)]
    assert sorted(rounds[0]) == sorted(rounds[1]) == [("onnx", "fp32"), ("torch", "fp32")]
    assert rounds[1] == rounds[0][::-1]
    assert sum(1 for entry in result["schedule"] if entry[2] == 2) == 2  # batch 2: runs // 2 rounds each
    if platform.system() != "Darwin":
        assert "macOS" in rows["coreml", "fp32"]["skipped"]
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fastest = select.read_fastest()["fp32"]
    assert fastest["backend"] in ("torch", "onnx") and fastest["backend"] == result["fastest"]["fp32"]["backend"]
    monkeypatch.setattr(select, "cuda_available", lambda: False)
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    name, why = select.choose_auto("student", "fp32")
    assert name == fastest["backend"] and "bench" in why


@pytest.mark.parametrize("args,pattern", [
    (["--batch", "0"], "--batch sizes must be >= 1"),
    (["--backends", "tpu"], "unknown backend 'tpu'"),
    (["--precisions", "int4"], "unknown precision 'int4'"),
    (["--seconds", "99"], "--seconds must be in"),
    (["--plot", "chart.jpg"], "PNG"),
])
def test_bench_rejects_bad_options_in_one_line(model_dir, cli, args, pattern):
    code, out, err = cli(["bench", "--model", str(model_dir), *args])
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert code == 2 and len(lines) == 1 and pattern in lines[0], err
    assert "Traceback" not in err


def test_bench_does_not_replace_a_file_unasked(model_dir, cli, tmp_path):
    mine = tmp_path / "results.json"
    mine.write_text("mine")
    code, out, err = cli(["bench", "--model", str(model_dir), "--json", str(mine)])
    assert code == 2 and "already exists: pass --force to overwrite it" in err and "Traceback" not in err
    assert mine.read_text() == "mine"
