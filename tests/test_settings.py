"""One value object for the sampling settings, passed whole from the user to the sampling loop."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from t2a_edge import TextToAudio
from t2a_edge.core.errors import T2AError
from t2a_edge.core.settings import AS_DRAWN, FALLBACK_DEFAULTS, Settings


@pytest.fixture(scope="module")
def student(tiny_student):
    return TextToAudio.load(tiny_student, backend="torch")


def test_settings_are_one_frozen_value():
    s = Settings(seconds=1.0, steps=3, seed=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.steps = 4
    assert s.replace(steps=4).steps == 4 and s.steps == 3
    assert s.given() == {"seconds": 1.0, "steps": 3, "seed": 5}
    assert set(Settings.names()) == {"seconds", "steps", "cfg", "temperature", "noise_correlation", "anchors",
                                     "spread", "smooth", "seed", "teacher_steps"}
    # Every default a model may lack has a field, and every shaping field a value that leaves a clip as drawn.
    for kind, defaults in FALLBACK_DEFAULTS.items():
        assert set(defaults) <= set(Settings.names()), kind
    assert set(AS_DRAWN) <= set(Settings.names())


@pytest.mark.parametrize("values, message", [
    ({"seconds": 0}, "seconds must be a positive number"), ({"seconds": float("nan")}, "seconds must be"),
    ({"steps": 0}, "steps must be a whole number"), ({"steps": 1.5}, "steps must be a whole number"),
    ({"cfg": -1.0}, "cfg must be >= 0"), ({"temperature": 0.0}, "temperature must be > 0"),
    ({"noise_correlation": -1.0}, "noise correlation"), ({"anchors": -1}, "anchors must be"),
    ({"spread": 0.0}, "spread must be > 0"), ({"smooth": -1.0}, "smooth must be >= 0"),
    ({"seed": -1}, "seed must be a whole number"),
])
def test_checks_need_no_model(values, message):
    with pytest.raises(T2AError, match=message):
        Settings(**values).check()


def test_limits_of_the_model():
    with pytest.raises(T2AError, match="between 0.5 and 2 for this model, got 3"):
        Settings(seconds=3.0).check_for("student", 2.0)
    with pytest.raises(T2AError, match="not a teacher"):
        Settings(noise_correlation=2.0).check_for("teacher", 10.0)
    Settings(seconds=2.0).check_for("student", 2.0)


def test_resolve_fills_the_model_defaults_and_types_them():
    defaults = dict(FALLBACK_DEFAULTS["student"], steps=2, spread=0.8)
    used = Settings(seconds=1, seed=3).resolve(defaults, "student").typed()
    assert used == Settings(seconds=1.0, steps=2, cfg=3.0, temperature=0.7, noise_correlation=0.0, anchors=0,
                            spread=0.8, smooth=0.0, seed=3, teacher_steps=None)
    assert isinstance(used.seconds, float) and isinstance(used.steps, int)
    teacher = Settings().resolve(FALLBACK_DEFAULTS["teacher"], "teacher")
    assert teacher.teacher_steps == 50 and Settings(teacher_steps=4).resolve(FALLBACK_DEFAULTS["teacher"],
                                                                             "teacher").teacher_steps == 4


def test_a_settings_object_gives_the_keywords_clips(student):
    """Passed whole, the settings make the same audio as the friendly keywords (same seed, same clip)."""
    keywords = dict(seconds=1.0, steps=3, seed=7, cfg=2.0, temperature=0.8, spread=0.9, smooth=20.0, anchors=2,
                    noise_correlation=1.5)
    by_keywords = student.generate(["clicks", "a short hiss"], **keywords)
    settings = Settings(**keywords)
    by_object = student.generate(["clicks", "a short hiss"], settings=settings)
    batches = [clip for part in student.generate_batches(["clicks", "a short hiss"], 1, settings) for clip in part]
    for a, b, c in zip(by_keywords, by_object, batches):
        np.testing.assert_array_equal(a.samples, b.samples)
        np.testing.assert_allclose(a.samples, c.samples, atol=1e-5)
        assert a.info == {**b.info, "timings": a.info["timings"]}
    # Keywords given with an object override its fields.
    longer = student.generate("clicks", settings=settings, seconds=1.5)
    assert longer.samples.shape == (int(1.5 * 16000),) and longer.info["steps"] == 3


def test_the_clip_reports_every_setting_it_used(student):
    clip = student.generate("clicks", settings=Settings(seconds=1.0, steps=2, seed=4))
    assert {k: clip.info[k] for k in Settings.names()} == Settings(
        seconds=1.0, steps=2, cfg=float(student.defaults["cfg"]), temperature=float(student.defaults["temperature"]),
        noise_correlation=float(student.defaults["noise_correlation"]), anchors=int(student.defaults["anchors"]),
        spread=float(student.defaults["spread"]), smooth=float(student.defaults["smooth"]), seed=4).report()


def test_run_pipeline_takes_the_settings_whole(student):
    from t2a_edge.runtimes.sampler import run_pipeline

    settings = Settings.as_drawn(seconds=1.0, steps=3, cfg=3.0, temperature=0.7, seed=5)
    wave, timings = run_pipeline(student.backend, student.tokenizer, ["clicks"], settings)
    clip = student.generate("clicks", settings=settings)
    np.testing.assert_array_equal(wave[0], clip.samples)
    assert set(timings) == {"text", "steps", "decode"}


def test_json_report_lists_the_settings(tiny_student, cli, tmp_path):
    code, out, err = cli(["generate", "clicks", "--model", str(tiny_student), "--backend", "torch", "--seconds", "1",
                          "--steps", "2", "--seed", "3", "--json", "-o", str(tmp_path / "c.wav")])
    assert code == 0, err
    line = json.loads(out.splitlines()[-1])
    assert {k: line[k] for k in ("steps", "seed", "spread", "smooth", "anchors", "noise_correlation")} == {
        "steps": 2, "seed": 3, "spread": line["spread"], "smooth": line["smooth"], "anchors": line["anchors"],
        "noise_correlation": line["noise_correlation"]}
    assert set(Settings.names()) - {"seconds", "teacher_steps"} <= set(line)


def test_check_before_load_takes_the_settings(tiny_student):
    from t2a_edge.runtimes.api import check_before_load

    with pytest.raises(T2AError, match="seconds must be between"):
        check_before_load(tiny_student, ["clicks"], Settings(seconds=60.0))
    check_before_load(tiny_student, ["clicks"], Settings(seconds=1.0))
