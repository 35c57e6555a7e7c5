"""Teacher and student generation through the shared loop: lengths, seeds, batches, cost."""

import numpy as np
import pytest

from t2a_edge import TextToAudio


@pytest.fixture(scope="module")
def student(tiny_student):
    return TextToAudio.load(tiny_student, backend="torch")


@pytest.fixture(scope="module")
def teacher(tiny_teacher):
    return TextToAudio.load(tiny_teacher, backend="torch")


@pytest.mark.parametrize("steps", [1, 4])
def test_student_generates_exact_length(student, steps):
    audio = student.generate("a rising chirp", seconds=1.3, steps=steps, seed=3)
    assert audio.samples.shape == (int(1.3 * 16000),) and audio.samples.dtype == np.float32
    assert audio.sample_rate == 16000 and np.isfinite(audio.samples).all()
    assert audio.info["steps"] == steps and audio.info["backend"] == "torch"


@pytest.mark.parametrize("steps", [1, 3])
def test_teacher_generates_exact_length(teacher, steps):
    audio = teacher.generate("a low steady hum", seconds=0.7, steps=steps, teacher_steps=5, seed=1)
    assert audio.samples.shape == (int(0.7 * 16000),) and np.isfinite(audio.samples).all()
    assert audio.info["teacher_steps"] == 5


def test_same_seed_same_audio_other_seed_other_audio(student, teacher):
    for model, extra in ((student, {}), (teacher, {"teacher_steps": 4})):
        a = model.generate("clicks", seconds=1.0, steps=3, seed=7, **extra).samples
        b = model.generate("clicks", seconds=1.0, steps=3, seed=7, **extra).samples
        c = model.generate("clicks", seconds=1.0, steps=3, seed=8, **extra).samples
        assert np.array_equal(a, b)
        assert not np.allclose(a, c)


def test_batch_gives_each_prompt_its_solo_result(student):
    batch = student.generate(["clicks", "a falling chirp", "a short hiss"], seconds=1.0, steps=3, seed=5)
    solo = student.generate("clicks", seconds=1.0, steps=3, seed=5)
    assert len(batch) == 3 and [a.prompt for a in batch] == ["clicks", "a falling chirp", "a short hiss"]
    np.testing.assert_allclose(batch[0].samples, solo.samples, atol=1e-5)


def test_a_request_in_batches_gives_the_clips_of_one_batch(student):
    """Prompt i draws from the stream [seed, i] whatever batch it runs in: batch_size bounds memory only."""
    from t2a_edge.core.errors import T2AError

    prompts = ["clicks", "a falling chirp", "a short hiss", "a low steady hum", "clicks"]
    whole = student.generate(prompts, seconds=1.0, steps=3, seed=5)
    for size in (1, 2, 4):
        parts = list(student.generate_batches(prompts, size, seconds=1.0, steps=3, seed=5))
        assert [len(part) for part in parts] == [min(size, len(prompts) - i) for i in range(0, len(prompts), size)]
        split = [clip for part in parts for clip in part]
        assert [c.prompt for c in split] == prompts
        for a, b in zip(whole, split):
            np.testing.assert_allclose(a.samples, b.samples, atol=1e-5)
    assert not np.allclose(whole[0].samples, whole[4].samples)  # the same prompt at another place: another clip
    again = student.generate(prompts, seconds=1.0, steps=3, seed=5, batch_size=3)
    np.testing.assert_allclose(again[4].samples, whole[4].samples, atol=1e-5)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(T2AError, match="batch size must be a whole number >= 1"):
            student.generate(prompts, batch_size=bad)


def test_cost_grows_with_length(student):
    """The step graph sees only the tokens the requested length needs, never the maximum."""
    seen = []
    original = student.backend.step

    def recording(text, text_mask, tokens, *rest):
        seen.append(tokens.shape[1])
        return original(text, text_mask, tokens, *rest)

    student.backend.step = recording
    try:
        student.generate("clicks", seconds=0.5, steps=2)
        short = list(seen)
        seen.clear()
        student.generate("clicks", seconds=2.0, steps=2)
        long = list(seen)
    finally:
        student.backend.step = original
    config = student.backend.config
    assert short == [config.tokens_for(0.5)] * 2
    assert long == [config.tokens_for(2.0)] * 2 and long[0] > 3 * short[0]


def test_audio_save_is_atomic_and_refuses_to_overwrite(student, tmp_path):
    import soundfile as sf

    from t2a_edge.core.errors import T2AError

    audio = student.generate("clicks", seconds=0.5, steps=1)
    path = audio.save(tmp_path / "a.flac")
    data, rate = sf.read(path)
    assert rate == 16000 and len(data) == 8000
    with pytest.raises(T2AError, match="already exists"):
        audio.save(path)
    audio.save(path, overwrite=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left behind


def test_written_files_follow_the_users_umask(tmp_path):
    """The atomic write's temp file is owner-only; the finished file gets the usual umask mode."""
    import os

    from t2a_edge.core.audio import save_audio

    old = os.umask(0o022)
    try:
        path = save_audio(tmp_path / "a.wav", np.zeros(160, np.float32))
    finally:
        os.umask(old)
    assert (path.stat().st_mode & 0o777) == 0o644


def test_correlated_head_noise_keeps_uniform_positions_and_ties_neighbours():
    """noise_correlation 0 is the old independent stream exactly; L > 0 keeps each position's noise
    uniform on [-0.5, 0.5] and correlates neighbours, less with distance."""
    from t2a_edge.runtimes.sampler import head_noise

    independent = head_noise(np.random.default_rng(3), 50, 8)
    assert np.array_equal(independent, np.random.default_rng(3).uniform(-0.5, 0.5, (50, 8)))
    noise = head_noise(np.random.default_rng(4), 4000, 16, correlation=4.0)
    assert noise.shape == (4000, 16) and noise.min() >= -0.5 and noise.max() <= 0.5
    assert abs(noise.mean()) < 0.02 and abs(noise.std() - 12 ** -0.5) < 0.01  # still U[-0.5, 0.5]

    def lag(k):
        return np.mean([np.corrcoef(noise[:-k, c], noise[k:, c])[0, 1] for c in range(16)])

    assert lag(1) > 0.6 > lag(4) > 0.2 > lag(8) > 0.05 and abs(lag(200)) < 0.1  # about exp(-k / 4)
    lag0 = np.mean([np.corrcoef(independent[:-1, c], independent[1:, c])[0, 1] for c in range(8)])
    assert abs(lag0) < 0.3


def test_noise_correlation_reaches_the_head_and_is_checked(tiny_student):
    from t2a_edge.core.errors import T2AError
    from t2a_edge.runtimes.api import TextToAudio

    tta = TextToAudio.load(tiny_student, backend="torch")
    plain = tta.generate("a tone", seconds=1.0, steps=1, seed=5)
    smooth = tta.generate("a tone", seconds=1.0, steps=1, seed=5, noise_correlation=8.0)
    assert plain.info["noise_correlation"] == 0.0 and smooth.info["noise_correlation"] == 8.0
    assert not np.array_equal(plain.samples, smooth.samples)
    with pytest.raises(T2AError, match="noise correlation must be >= 0"):
        tta.generate("a tone", seconds=1.0, noise_correlation=-1.0)


def test_spread_scales_the_decoded_tokens_on_every_kind_and_is_checked(student, teacher, monkeypatch):
    """spread f hands the decoder f x the tokens the same seed draws; reported, and refused at <= 0."""
    from t2a_edge.core.errors import T2AError

    for model, extra in ((student, {}), (teacher, {"teacher_steps": 3})):
        seen = []
        decode = model.backend.decode
        monkeypatch.setattr(model.backend, "decode", lambda tokens: seen.append(tokens.copy()) or decode(tokens))
        plain = model.generate("rain on a roof", seconds=1.0, steps=2, seed=4, **extra)
        shrunk = model.generate("rain on a roof", seconds=1.0, steps=2, seed=4, spread=0.6, **extra)
        monkeypatch.undo()
        assert plain.info["spread"] == 1.0 and shrunk.info["spread"] == 0.6
        assert np.abs(seen[0]).max() > 0 and np.allclose(seen[1], 0.6 * seen[0], atol=1e-6)
        assert not np.allclose(plain.samples, shrunk.samples)
        for bad in (0.0, -1.0, float("nan")):
            with pytest.raises(T2AError, match="spread must be > 0"):
                model.generate("rain on a roof", seconds=1.0, spread=bad)


def test_smooth_steadies_the_decoded_loudness_on_every_kind_and_is_checked(student, teacher, monkeypatch):
    """smooth ms hands the phase the decoder's magnitudes with a steadier loudness; reported; refused < 0."""
    import t2a_edge.runtimes.sampler as sampler
    from t2a_edge.core.errors import T2AError

    for model, extra in ((student, {}), (teacher, {"teacher_steps": 3})):
        seen = []
        synthesize = sampler.synthesize
        monkeypatch.setattr(sampler, "synthesize", lambda mag, codec: seen.append(mag.copy()) or synthesize(mag, codec))
        plain = model.generate("rain on a roof", seconds=1.0, steps=2, seed=4, **extra)
        steady = model.generate("rain on a roof", seconds=1.0, steps=2, seed=4, smooth=50, **extra)
        monkeypatch.undo()
        assert plain.info["smooth"] == 0.0 and steady.info["smooth"] == 50.0
        loudness = [np.log(np.maximum(m, 1e-5)).mean(axis=1)[0] for m in seen]
        assert np.abs(np.diff(loudness[1])).mean() < 0.7 * np.abs(np.diff(loudness[0])).mean()
        gain = seen[1][0] / np.maximum(seen[0][0], 1e-30)  # one gain per frame: each frame's spectral shape kept
        assert np.abs(gain - gain[:1]).max() <= 1e-4 * gain.max() and gain.std() > 1e-3
        assert not np.allclose(plain.samples, steady.samples)
        for bad in (-1.0, float("nan")):
            with pytest.raises(T2AError, match="smooth must be >= 0"):
                model.generate("rain on a roof", seconds=1.0, smooth=bad)


def test_anchors_make_the_first_step_reveal_that_many_tokens():
    """The second step sees exactly the anchors revealed; the API reports and checks the setting."""
    from t2a_edge.core.config import preset
    from t2a_edge.core.errors import T2AError
    from t2a_edge.runtimes.sampler import generate_tokens

    seen = []

    class Recorder:
        config = preset("tiny")

        def step(self, text, text_mask, tokens, known, noise, scale, temperature):
            seen.append(known.sum(axis=1))
            return np.ones_like(tokens)

    tokens = generate_tokens(Recorder(), np.zeros((2, 3, 384), np.float32), np.ones((2, 3), np.float32), n_tokens=12,
                             steps=2, cfg=1.0, temperature=1.0, seed=0, anchors=3)
    assert [list(s) for s in seen] == [[0, 0], [3, 3]] and (tokens == 1).all()
    with pytest.raises(T2AError, match="anchors must be a whole number"):
        TextToAudio.load("default", backend="torch").generate("rain", steps=2, anchors=-2)


@pytest.mark.parametrize("bad,message", [
    (123, "prompt must be a string or a list of strings, got int"),
    (None, "prompt must be a string or a list of strings, got NoneType"),
    ([], "no prompt given"),
    (["a dog", " "], "a prompt is empty"),
])
def test_api_refuses_bad_prompts_in_one_line(student, bad, message):
    from t2a_edge.core.errors import T2AError

    with pytest.raises(T2AError, match=message):
        student.generate(bad, seconds=1.0)


def test_api_refuses_a_negative_or_fractional_seed(student):
    from t2a_edge.core.errors import T2AError

    for seed in (-1, 1.5):
        with pytest.raises(T2AError, match="seed must be a whole number >= 0"):
            student.generate("a dog", seconds=1.0, seed=seed)
