"""A first clip in seconds: auto runs on what is ready, options are checked before any conversion,
concurrent first uses convert once, long work says what it does off a terminal, and auto takes the
fastest precision whose quality check passed."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest

from t2a_edge.core.bundle import CONVERTER_VERSION, MANIFEST
from t2a_edge.core.errors import T2AError
from t2a_edge.core.model import save_model
from t2a_edge.runtimes import select


@pytest.fixture
def no_gpu_linux(monkeypatch):
    monkeypatch.setattr(select, "cuda_available", lambda: False)
    monkeypatch.setattr(platform, "system", lambda: "Linux")


@pytest.fixture
def no_conversion(monkeypatch):
    """Any conversion fails the test: the cases here must not convert."""
    def refuse(*args, **kwargs):
        raise AssertionError("a conversion started")

    monkeypatch.setattr(select, "convert_model_folder", refuse)


def manifests_in(root: Path) -> list[Path]:
    return list(root.rglob(MANIFEST)) if root.exists() else []


def fake_bundle(folder: Path, backend: str, precision: str, judge: float | None = None, snr: float = 110.0) -> Path:
    """A cached bundle's manifest as the converter writes it (enough for choosing, not for running)."""
    out = select.cached_bundle_dir(folder, backend, precision)
    out.mkdir(parents=True)
    e2e = {"snr_db": snr, "logmel_cosine": 0.99}
    if precision != "fp32":
        e2e["judge_cosine"] = judge
    manifest = {"format": 3, "converter": CONVERTER_VERSION, "backend": backend, "precision": precision,
                "kind": "student", "config": {},
                "components": {name: {"bytes": 1, "precision": precision, "file": f"{name}.onnx"}
                               for name in ("text_encoder", "step", "decoder")},
                "parity": {"end_to_end": e2e}}
    (out / MANIFEST).write_text(json.dumps(manifest))
    return out


@pytest.fixture
def plain_manifests(monkeypatch):
    # The fake bundles above are read as they are (what the choice reads: backend, precision, parity).
    monkeypatch.setattr(select, "read_manifest", lambda folder: json.loads((Path(folder) / MANIFEST).read_text()))


# -- auto runs on what is ready --------------------------------------------------------------------

def test_auto_with_an_empty_cache_runs_on_torch_and_names_the_conversion(student_dir, cache, no_gpu_linux,
                                                                          no_conversion):
    from t2a_edge import TextToAudio

    tta = TextToAudio.load(student_dir)
    assert tta.backend.name == "torch" and tta.backend.precision == "fp32"
    assert "ready at once" in tta.why and "`t2a-edge convert`" in tta.why and "openvino" in tta.why
    assert manifests_in(cache) == []
    clip = tta.generate("a dog barks", seconds=0.9, seed=1)
    assert clip.samples.shape == (int(0.9 * 16000),)


def test_auto_takes_the_fastest_precision_whose_quality_check_passed(student_dir, cache, no_gpu_linux,
                                                                      plain_manifests):
    fake_bundle(student_dir, "onnx", "fp32")
    backend, precision, why = select.auto_choice(student_dir, "student", None)
    assert (backend, precision) == ("onnx", "fp32") and "quality check passed" in why
    # An int8 bundle the judge never heard (no judge when it was converted) is not used, and auto says why.
    fake_bundle(student_dir, "openvino", "int8", judge=None, snr=14.0)
    backend, precision, why = select.auto_choice(student_dir, "student", None)
    assert (backend, precision) == ("onnx", "fp32")
    assert "openvino int8 is cached but not used" in why and "judge" in why
    # One that failed its check is not used either; one that passed is (int8 is 2-3x faster).
    fake_bundle(student_dir, "executorch", "int8", judge=0.5, snr=20.0)
    fake_bundle(student_dir, "onnx", "int8", judge=0.998, snr=26.0)
    backend, precision, why = select.auto_choice(student_dir, "student", None)
    assert (backend, precision) == ("onnx", "int8")
    assert "judge cosine 0.998" in why and "executorch int8 is cached but not used" in why
    # Between two passing int8 bundles: the bench's fastest, else the default order.
    select.record_fastest({"int8": {"backend": "executorch", "rtf": 0.004}})
    assert select.auto_choice(student_dir, "student", None)[:2] == ("onnx", "int8")  # executorch failed its check
    # An explicit precision takes that precision's bundle, even one whose check could not run.
    backend, precision, why = select.auto_choice(student_dir, "student", "fp32")
    assert (backend, precision) == ("onnx", "fp32")


def test_auto_prefers_the_bench_record_among_passing_bundles(student_dir, cache, no_gpu_linux, plain_manifests):
    fake_bundle(student_dir, "onnx", "int8", judge=0.998)
    fake_bundle(student_dir, "executorch", "int8", judge=0.999)
    assert select.auto_choice(student_dir, "student", None)[:2] == ("onnx", "int8")  # default order
    select.record_fastest({"int8": {"backend": "executorch", "rtf": 0.004}})
    assert select.auto_choice(student_dir, "student", None)[:2] == ("executorch", "int8")


def test_auto_still_converts_for_an_explicit_int8_request(student_dir, cache, no_gpu_linux, monkeypatch):
    """Torch cannot run int8: asking for it is asking for the conversion."""
    called = []
    monkeypatch.setattr(select, "convert_model_folder", lambda *a, **k: called.append(a) or (_ for _ in ()).throw(
        T2AError("stop here")))
    with pytest.raises(T2AError, match="stop here"):
        select.load_backend(student_dir, "auto", "int8", progress=False)
    assert called and called[0][1:3] == ("openvino", "int8")


# -- every option is checked before any conversion --------------------------------------------------

def test_bad_options_are_refused_before_any_conversion(student_dir, cache, cli, no_conversion):
    for args, message in ((["--seconds", "11"], "seconds must be between 0.5 and 2"),
                          (["--seconds", "0.1"], "seconds must be between 0.5"),
                          (["--steps", "0"], "steps must be a whole number"),
                          (["--noise-correlation", "-1"], "noise correlation")):
        started = time.perf_counter()
        code, out, err = cli(["generate", "a dog barks", "--model", str(student_dir), "--backend", "onnx",
                              "-o", str(cache.parent / "x.wav"), *args])
        assert code != 0 and message in err, (args, err)
        assert time.perf_counter() - started < 5
    assert manifests_in(cache) == [] and not (cache.parent / "x.wav").exists()


def test_check_before_load_reads_a_bundle_and_a_teacher(student_dir, cache, tmp_path):
    from t2a_edge.core.config import preset
    from t2a_edge.core.model import T2AModel
    from t2a_edge.core.settings import Settings
    from t2a_edge.runtimes.api import check_before_load

    teacher = tmp_path / "teacher"
    save_model(T2AModel(preset("tiny"), diffusion_head=True, energy_head=False), teacher)
    with pytest.raises(T2AError, match="not a teacher"):
        check_before_load(teacher, ["rain"], Settings(noise_correlation=2.0))
    with pytest.raises(T2AError, match="teacher steps"):
        check_before_load(teacher, ["rain"], Settings(teacher_steps=-1))
    check_before_load(student_dir, ["rain"], Settings(seconds=1.5))
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / MANIFEST).write_text(json.dumps({"format": 3, "backend": "onnx", "precision": "fp32", "kind": "student",
                                               "max_seconds": 3.0, "config": {},
                                               "components": {name: {"file": f"{name}.onnx", "files": {f"{name}.onnx": "0" * 64}}
                                                              for name in ("text_encoder", "step", "decoder")}}))
    with pytest.raises(T2AError, match="between 0.5 and 3"):
        check_before_load(bundle, ["rain"], Settings(seconds=4.0))


# -- concurrent first uses convert once -----------------------------------------------------------

def _fake_convert(log: Path):
    def convert(folder, backend, precision, out, force=False, progress=True):
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(1.0)  # long enough for every other process to reach the lock
        tmp = Path(str(out) + ".tmp")
        tmp.mkdir(parents=True)
        (tmp / MANIFEST).write_text(json.dumps({"converter": CONVERTER_VERSION}))
        os.replace(tmp, out)
        return {}

    return convert


def _first_use(folder, log, results, index):
    select.convert_model_folder = _fake_convert(Path(log))
    select.read_manifest = lambda f: json.loads((Path(f) / MANIFEST).read_text())
    path, converted = select.ensure_bundle(Path(folder), "onnx", "fp32", progress=False)
    results.put((index, str(path), converted))


@pytest.mark.skipif(sys.platform == "win32", reason="no flock")
def test_concurrent_first_uses_convert_once(student_dir, cache, tmp_path):
    """Four processes ask for the same missing bundle: one converts, three wait and load its bundle."""
    context = multiprocessing.get_context("fork")
    log = tmp_path / "conversions.log"
    results = context.Queue()
    workers = [context.Process(target=_first_use, args=(str(student_dir), str(log), results, i)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    got = sorted(results.get(timeout=5) for _ in workers)
    assert len(log.read_text().splitlines()) == 1
    assert len({path for _, path, _ in got}) == 1 and sum(converted for *_, converted in got) == 1
    # The lock file lives outside the bundle folders: `cache list` and `cache clean` never see it.
    assert select.lock_path(Path(got[0][1])).is_file()
    assert not any(p.name.endswith(".lock") for p in (cache / "bundles").rglob("*"))


def test_a_second_process_waits_and_says_so(student_dir, cache, tmp_path, monkeypatch):
    out = select.cached_bundle_dir(student_dir, "onnx", "fp32")
    said = []
    with select.conversion_lock(out) as held:
        assert held
        with select.conversion_lock(out, wait=False) as other:
            assert other is False  # flock: a second open file description of the same lock conflicts
    import threading

    release = threading.Event()

    def holder():
        with select.conversion_lock(out):
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    time.sleep(0.2)
    timer = threading.Timer(0.5, release.set)
    timer.start()
    with select.conversion_lock(out, say=said.append) as held:
        assert held
    thread.join()
    assert said and "another t2a-edge process is converting onnx-fp32" in said[0] and "waiting" in said[0]


# -- progress off a terminal ------------------------------------------------------------------------

def test_stages_are_lines_when_not_on_a_terminal():
    stream = io.StringIO()
    report = select.StageReport("converting for onnx fp32", stream)
    report("export decoder", 1, 3)
    report("onnx: lower decoder (fp32)", 2, 3)
    report.close()
    assert stream.getvalue().splitlines() == ["converting for onnx fp32: stage 1/3: export decoder",
                                              "converting for onnx fp32: stage 2/3: onnx: lower decoder (fp32)"]


def test_a_conversion_on_first_use_reports_its_stages_off_a_terminal(student_dir, cache, monkeypatch, capsys):
    import t2a_edge.convert.bundle as bundle

    def fake(model, backends, precisions, out_for, progress=None, **kwargs):
        for done, stage in enumerate(("export text_encoder", "export step"), 1):
            progress(stage, done, 2)
        raise T2AError("stopped after two stages")

    monkeypatch.setattr(bundle, "convert_bundles", fake)
    with pytest.raises(T2AError, match="stopped"):
        select.load_backend(student_dir, "onnx", "fp32")
    err = capsys.readouterr().err
    assert "converting for onnx fp32: stage 1/2: export text_encoder" in err
    assert "stage 2/2: export step" in err


# -- convert on request ----------------------------------------------------------------------------

def test_convert_with_no_options_makes_what_auto_uses(student_dir, cache, cli, monkeypatch, no_gpu_linux):
    import t2a_edge.apps.convert_cmd as convert_cmd
    import t2a_edge.convert.bundle as bundle

    asked = []

    def fake(model, backends, precisions, out_for, progress=None, **kwargs):
        asked.append((list(backends), list(precisions)))
        made = {}
        for b in backends:
            for p in precisions:
                folder = fake_bundle(student_dir, b, p, judge=0.998 if p != "fp32" else None)
                made[b, p] = json.loads((folder / MANIFEST).read_text())
        return made

    monkeypatch.setattr(bundle, "convert_bundles", fake)
    monkeypatch.setattr(convert_cmd, "_prepare_judge", lambda say: None)
    monkeypatch.setattr(select, "read_manifest", lambda f: json.loads((Path(f) / MANIFEST).read_text()))
    code, out, err = cli(["convert", "--model", str(student_dir)])
    assert code == 0, err
    target = select.choose_auto("student", "int8")[0]
    assert asked == [([target], ["fp32", "int8"])]
    assert f"generate --backend auto now uses {target} int8" in out and "quality check passed" in out
    code, out, err = cli(["convert", "--model", str(student_dir)])  # nothing left to do
    assert code == 0 and len(asked) == 1 and "already converted" in out


# -- the first clip, measured ---------------------------------------------------------------------

@pytest.mark.slow
def test_first_clip_of_the_default_model_with_an_empty_cache(tmp_path):
    """`t2a-edge generate "dog barking"` right after install writes its WAV without converting first.

    Measured on 2 shared cores: 6-7 s wall (it was 57-100 s, almost all of it converting an OpenVINO
    bundle). No time bound here: a loaded test machine would make it flaky; what is checked is that
    nothing was converted and the choice was said.
    """
    env = {**os.environ, "T2A_EDGE_CACHE": str(tmp_path / "cache")}
    env.pop("OMP_WAIT_POLICY", None)
    run = subprocess.run([sys.executable, "-m", "t2a_edge.apps.cli", "generate", "dog barking", "-o",
                          str(tmp_path / "dog.wav")], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "dog.wav").is_file()
    assert "backend: torch fp32 (auto: ready at once" in run.stdout and "t2a-edge convert" in run.stdout, run.stdout
    assert manifests_in(tmp_path / "cache") == []
