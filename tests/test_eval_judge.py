"""The YAMNet judge end to end: fetched once per session with pip, then run on audio made here."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from t2a_edge.apps.evaluation import fetch, metrics
from t2a_edge.apps.evaluation.cache import FeatureCache
from t2a_edge.apps.evaluation.judge import Judge
from t2a_edge.core.errors import T2AError

SR = 16000


@pytest.fixture(scope="session")
def judge(cache_root):
    return Judge(cache_root / "judge")


def tone(freq, seconds=3.0, amp=0.4):
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seed, seconds=3.0, amp=0.4):
    return np.random.default_rng(seed).uniform(-amp, amp, int(seconds * SR)).astype(np.float32)


def write_corpus(folder, n=6):
    """A tiny manifest: alternating tone and noise clips, with captions naming them."""
    (folder / "audio").mkdir(parents=True)
    rows = []
    for i in range(n):
        category = ("tone", "noise")[i % 2]
        x = tone(300 + 60 * i) if category == "tone" else noise(i)
        sf.write(folder / "audio" / f"c{i}.wav", x, SR, subtype="PCM_16")
        rows.append({"id": f"c{i}", "audio": f"audio/c{i}.wav", "captions": [f"a {category} sound"],
                     "category": category, "split": "test", "duration": 3.0})
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder / "manifest.jsonl"


ACCEPTED = {"tone": ("Sine wave", "Beep, bleep", "Dial tone", "Telephone", "Tuning fork"),
            "noise": ("White noise", "Pink noise", "Static", "Noise", "Waterfall", "Water")}


def test_judge_is_pinned_and_prepared(cache_root, tmp_path):
    info = json.loads((cache_root / "judge" / "judge.json").read_text())
    assert info["wheel_sha256"] == fetch.WHEEL_SHA256
    assert info["quant"]["audio_zero_point"] == 144
    wheel = cache_root / "judge" / "wheel" / fetch.WHEEL
    fetch.verify_wheel(wheel)
    tampered = tmp_path / fetch.WHEEL
    shutil.copy(wheel, tampered)
    with open(tampered, "ab") as f:
        f.write(b"\0")
    with pytest.raises(T2AError, match="sha256"):
        fetch.verify_wheel(tampered)


def test_a_damaged_judge_record_is_prepared_again(cache_root, tmp_path):
    """A cut-short judge.json (a full disk, a killed process) means preparing the judge again, not a traceback."""
    root = tmp_path / "judge"
    shutil.copytree(cache_root / "judge", root)
    prepared = (root / "yamnet_batched.onnx").read_bytes()
    (root / "judge.json").write_text('{"version": ')
    files = fetch.ensure_judge(root)
    assert files.model.read_bytes() == prepared
    assert json.loads((root / "judge.json").read_text())["quant"] == files.quant


def test_batched_patches_equal_one_at_a_time(judge):
    from t2a_edge.apps.evaluation import features

    patches = features.patches(np.concatenate([tone(440), noise(0)]))
    assert len(patches) > 8
    batched = judge.run_patches(patches)
    single = [judge.run_patches(p[None]) for p in patches]
    np.testing.assert_array_equal(batched.logits, np.concatenate([s.logits for s in single]))
    np.testing.assert_array_equal(batched.embeddings, np.concatenate([s.embeddings for s in single]))
    assert batched.logits.shape == (len(patches), 521) and batched.embeddings.shape == (len(patches), 1024)


def test_judge_computes_the_graphs_own_semantics(judge, cache_root):
    """The judge's figures must not depend on the CPU: its logits match ONNX's pure-numpy reference
    evaluator of the same graph (onnxruntime's fused int8 kernels differ from it per CPU)."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    from t2a_edge.apps.evaluation import features
    from t2a_edge.apps.evaluation.fetch import ensure_judge

    patches = features.patches(np.concatenate([tone(440, 1.0), noise(0, 1.0)]))[:2]
    reference = ReferenceEvaluator(onnx.load(str(ensure_judge(cache_root / "judge").model)))
    raw = reference.run([judge.session.get_outputs()[0].name], {judge.input_name: judge.quantize(patches)})[0]
    expected = judge.out_scale * (raw.astype(np.float32) - judge.out_zero)
    got = judge.run_patches(patches).logits
    # Float sums in another order may flip a requantisation by one step, rarely.
    assert np.mean(np.abs(got - expected) <= judge.out_scale * 1.01) > 0.99
    assert np.abs(got - expected).max() <= 3 * judge.out_scale


def test_tone_noise_and_silence_land_on_different_classes(judge):
    sine, hiss, quiet = judge.run(tone(1000)), judge.run(noise(0)), judge.run(np.zeros(3 * SR, np.float32))
    top = {name: [c for c, _ in judge.top(clip)] for name, clip in (("sine", sine), ("hiss", hiss), ("quiet", quiet))}
    assert top["sine"][0] != top["hiss"][0]
    assert set(top["sine"]) & set(ACCEPTED["tone"]) and "White noise" in top["hiss"]
    assert top["quiet"][0] == "Silence"
    assert len(judge.class_names) == 521 and judge.class_names[0] == "Speech"


def test_fad_on_judge_embeddings(judge):
    tones = [judge.run(tone(f)) for f in (300, 420, 550, 700)]
    other = [judge.run(tone(f)) for f in (350, 480, 610, 760)]
    hiss = [judge.run(noise(s)) for s in range(4)]
    emb = lambda clips: np.concatenate([c.embeddings for c in clips])  # noqa: E731
    assert metrics.frechet_distance(emb(tones), emb(tones)) < 1e-6
    assert metrics.frechet_distance(emb(tones), emb(other)) < metrics.frechet_distance(emb(tones), emb(hiss))


def test_feature_cache_keys_on_file_bytes(judge, tmp_path):
    cache = FeatureCache(judge, tmp_path / "features")
    sf.write(tmp_path / "a.wav", tone(500), SR, subtype="PCM_16")
    shutil.copy(tmp_path / "a.wav", tmp_path / "copy.wav")
    first = cache.features(tmp_path / "a.wav")
    again = cache.features(tmp_path / "copy.wav")
    assert (cache.misses, cache.hits) == (1, 1)
    np.testing.assert_array_equal(first.logits, again.logits)
    assert len(list((tmp_path / "features").glob("*.npz"))) == 1
    with pytest.raises(T2AError, match="does not exist"):
        cache.features(tmp_path / "missing.wav")


def test_feature_cache_drops_the_least_recently_used_past_its_bound(judge, tmp_path, monkeypatch):
    from t2a_edge.apps.evaluation import cache as cache_module
    from t2a_edge.core.model_files import sha256_file

    folder = tmp_path / "features"
    files, entries = [], []
    for i, f in enumerate((400, 500, 600)):
        files.append(tmp_path / f"{i}.wav")
        sf.write(files[-1], tone(f), SR, subtype="PCM_16")
        entries.append(folder / f"{sha256_file(files[-1])}.npz")
    roomy = FeatureCache(judge, folder, limit=10**9)
    roomy.many(files)
    for age, entry in enumerate(entries):  # used long ago, file 0 first
        os.utime(entry, (1000 + age, 1000 + age))
    roomy.features(files[0])  # a hit marks its entry as just used
    total = sum(e.stat().st_size for e in entries)
    assert FeatureCache(judge, folder, limit=total - 1).prune() == 1
    assert [e.is_file() for e in entries] == [True, False, True]  # file 1's was the least recently used
    assert FeatureCache(judge, folder, limit=0).prune() == 2 and not list(folder.glob("*.npz"))
    FeatureCache(judge, folder, limit=0).features(files[1])  # a run's first new entry checks the bound
    assert not list(folder.glob("*.npz"))
    monkeypatch.setenv("T2A_EDGE_FEATURES_MB", "lots")
    with pytest.raises(T2AError, match="T2A_EDGE_FEATURES_MB"):
        cache_module.size_limit()
    monkeypatch.setenv("T2A_EDGE_FEATURES_MB", "2")
    assert cache_module.size_limit() == 2 * 2**20


def test_judge_modules_do_not_import_torch(cache_root):
    code = (
        "import sys, numpy as np\n"
        "import t2a_edge.apps.evaluation.fetch, t2a_edge.apps.evaluation.features, t2a_edge.apps.evaluation.metrics\n"
        "import t2a_edge.apps.evaluation.recon, t2a_edge.apps.evaluation.report, t2a_edge.apps.evaluation.scoring\n"
        "import t2a_edge.apps.evaluation.generation, t2a_edge.apps.eval_cmd\n"
        "from t2a_edge.apps.evaluation.cache import FeatureCache\n"
        "from t2a_edge.apps.evaluation.judge import Judge\n"
        f"j = Judge({str(cache_root / 'judge')!r}); j.run(np.zeros(16000, np.float32))\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchaudio'))\n"
        "assert not bad, bad\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def run_cli(args, cache_root, cwd):
    env = {**os.environ, "T2A_EDGE_CACHE": str(cache_root)}
    return subprocess.run([sys.executable, "-m", "t2a_edge.apps.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=env)


def test_cli_scores_generated_folder(cache_root, tmp_path):
    manifest = write_corpus(tmp_path / "corpus")
    gen = tmp_path / "gen"
    gen.mkdir()
    for i in range(5):  # c5 is left out on purpose
        shutil.copy(tmp_path / "corpus" / "audio" / f"c{i}.wav", gen / f"c{i}.wav")
    run = run_cli(["eval", "--generated", str(gen), "--data", str(manifest), "--json", "out.json",
                   "--table", "out.md"], cache_root, tmp_path)
    assert run.returncode == 0, run.stderr
    assert "scored 5 of 6 clips" in run.stderr
    result = json.loads((tmp_path / "out.json").read_text())
    real, scored = result["rows"]
    assert real["clips"] == 6 and scored["clips"] == 5
    # The "generated" files are the references themselves: paired KL is zero, FAD nearly so.
    assert scored["kl"] == pytest.approx(0.0, abs=1e-9) and scored["fad"] < 1e-6
    assert real["fad"] > 1.0 and scored["is"] > 1.0
    assert "| gen | 5 |" in (tmp_path / "out.md").read_text()
    assert "| gen | 5 |" in run.stdout
    # A second run may not replace the reports unless asked to.
    (tmp_path / "out.md").write_text("my notes\n")
    again = ["eval", "--generated", str(gen), "--data", str(manifest), "--json", "out.json", "--table", "out.md"]
    run = run_cli(again, cache_root, tmp_path)
    assert run.returncode == 2 and "--json out.json already exists: pass --force" in run.stderr, run.stderr
    assert (tmp_path / "out.md").read_text() == "my notes\n"
    run = run_cli([*again, "--force"], cache_root, tmp_path)
    assert run.returncode == 0, run.stderr
    assert "| gen | 5 |" in (tmp_path / "out.md").read_text()


class FakeAudio:
    def __init__(self, samples):
        self.samples, self.sample_rate = samples, SR


class FakeModel:
    """Stands in for TextToAudio: tones for 'tone' prompts, noise otherwise; a lossy codec."""

    def __init__(self, kind="student"):
        self.calls = []
        self.backend = type("Backend", (), {"kind": kind})()
        self.defaults = {"steps": 8}

    def generate(self, prompt, seed=0, **kwargs):
        self.calls.append((prompt, seed, kwargs))
        seconds = kwargs.get("seconds", 3.0)
        if isinstance(prompt, list):
            return [self.generate(p, seed + i, **kwargs) for i, p in enumerate(prompt)]
        x = tone(400 + seed % 300, seconds) if "tone" in prompt else noise(seed, seconds)
        return FakeAudio(x)

    def codec_roundtrip(self, samples):
        return samples[: len(samples) - 100] * 0.9


@pytest.fixture
def fake_cli(cache_root, monkeypatch):
    from t2a_edge.apps.evaluation import generation, scoring

    models = {"student": FakeModel("student"), "teacher": FakeModel("teacher")}
    monkeypatch.setenv("T2A_EDGE_CACHE", str(cache_root))
    def load(path, backend):
        name = "teacher" if "teacher" in str(path) else "student" if str(path) == "default" else str(path)
        return models.setdefault(name, FakeModel("student"))

    monkeypatch.setattr(generation, "load_model", load)
    monkeypatch.setattr(scoring, "accepted_lookup", lambda: ACCEPTED.__getitem__)
    return models


def test_eval_generates_with_fixed_seeds(fake_cli, tmp_path, capsys):
    from t2a_edge.apps.cli import main
    from t2a_edge.apps.evaluation.generation import clip_seed

    manifest = write_corpus(tmp_path / "corpus")
    main(["eval", "--model", "default", "--data", str(manifest), "--steps", "4", "--seconds", "2",
          "--out", str(tmp_path / "gen"), "--json", str(tmp_path / "r.json")])
    assert sorted(p.name for p in (tmp_path / "gen").iterdir()) == [f"c{i}.wav" for i in range(6)]
    timed = fake_cli["student"].calls[1:]  # the first call is the untimed warm-up
    assert [seed for _, seed, _ in timed] == [clip_seed(f"c{i}") for i in range(6)]
    assert all(kw == {"seconds": 2.0, "steps": 4} for _, _, kw in timed)
    row = json.loads((tmp_path / "r.json").read_text())["rows"][1]
    assert row["system"] == "student K=4"
    assert row["hit_rate"] > 0.5 and row["latency_s"] > 0 and row["rtf"] > 0
    assert "hit-rate" in capsys.readouterr().out


def test_compare_and_codec_tables(fake_cli, tmp_path, capsys):
    from t2a_edge.apps.cli import main

    manifest = write_corpus(tmp_path / "corpus")
    with pytest.raises(SystemExit):  # a teacher row without a teacher model is refused up front
        main(["eval", "compare", "teacher:K=4,S=3", "--data", str(manifest)])
    assert "needs a teacher model" in capsys.readouterr().err
    main(["eval", "compare", "teacher:K=4,S=3", "student:K=1", "--teacher", "teacher-run", "--data", str(manifest),
          "--seconds", "1.5", "--codec-row", "--json", str(tmp_path / "c.json")])
    rows = json.loads((tmp_path / "c.json").read_text())["rows"]
    assert [r["system"] for r in rows[1:]] == ["codec reconstruction (ceiling)", "teacher:K=4,S=3", "student:K=1"]
    # the ceiling row scores the student model's codec on the same clips, in the same run
    assert rows[1]["clips"] == rows[0]["clips"] and rows[1]["hit_rate"] > 0.5 and rows[1]["embedding_cosine"] > 0.9
    assert {kw["teacher_steps"] for _, _, kw in fake_cli["teacher"].calls} == {3}
    assert {kw["steps"] for _, _, kw in fake_cli["student"].calls} == {1}
    main(["lab", "codec", "--data", str(manifest), "--json", str(tmp_path / "k.json")])
    codec = json.loads((tmp_path / "k.json").read_text())["rows"][1]
    assert 0.9 < codec["embedding_cosine"] <= 1.0 and codec["top1_agreement"] > 0.5
    assert codec["mel_l1"] > 0 and codec["mrstft"] > 0 and codec["kl"] < 1.0
    out = capsys.readouterr().out
    assert "MR-STFT" in out and "top-1 class the judge hears most" in out


def test_heard_table_shows_a_generator_that_sounds_alike():
    from t2a_edge.apps.evaluation.report import heard_table

    varied = {"system": "real", "per_clip": [{"top5": [name, "x"]} for name in "ABCDA"], "hit_rate_shuffled": 0.05}
    alike = {"system": "student", "per_clip": [{"top5": ["Music"]}] * 4 + [{"top5": ["Dog"]}]}
    table = heard_table([varied, alike, {"system": "no clips"}])
    lines = table.strip().splitlines()
    assert lines[2] == "| real | A 40%, B 20%, C 20% | 5.0% |"
    assert lines[3] == "| student | Music 80%, Dog 20% | – |"
    assert len(lines) == 4 and heard_table([{"system": "none"}]) == ""


def test_compare_paraphrases_other_model_and_batched_speed(fake_cli, tmp_path, monkeypatch):
    from t2a_edge.apps.cli import main
    from t2a_edge.apps.evaluation import paraphrases

    monkeypatch.setattr(paraphrases, "PARAPHRASES", {"tone": ("a pure tone beeping", "a sine tone")})
    manifest = write_corpus(tmp_path / "corpus")
    main(["eval", "compare", "student:K=2", "student:K=2,prompts=paraphrase", "student:K=2,model=no-distill",
          "--data", str(manifest), "--speed-batch", "3", "--seconds", "1", "--json", str(tmp_path / "c.json")])
    rows = json.loads((tmp_path / "c.json").read_text())["rows"][1:]
    prompts = [c["caption"] for c in rows[1]["per_clip"]]
    # tone clips c0, c2, c4 cycle through their category's paraphrases; noise has none and keeps its caption
    assert prompts == ["a pure tone beeping", "a noise sound", "a sine tone", "a noise sound",
                       "a pure tone beeping", "a noise sound"]
    assert rows[1]["hit_rate"] > 0.5
    assert all(r["latency_batch_s"] > 0 for r in rows)
    batched = [p for p, _, _ in fake_cli["student"].calls if isinstance(p, list)]
    assert batched and all(len(p) == 3 for p in batched)
    other = fake_cli["no-distill"].calls
    assert other and all(kw["steps"] == 2 for _, _, kw in other)
    assert not any(p == "a pure tone beeping" for p, _, _ in other)


def test_paraphrases_are_not_corpus_captions():
    """The paraphrased prompts must be new wording: none is a caption spec of the corpus rules."""
    import ast
    import inspect

    from t2a_edge.apps.evaluation.paraphrases import PARAPHRASES
    from t2a_edge.train.corpus import captions, sources
    from t2a_edge.train.corpus.categories import CATEGORIES

    assert set(PARAPHRASES) == set(CATEGORIES)
    specs = set()
    for module in (sources, captions):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                specs.update(part.strip().lower() for part in node.value.split("|"))
    assert len(specs) > 500
    clashes = [p for prompts in PARAPHRASES.values() for p in prompts if p.lower() in specs]
    assert not clashes
