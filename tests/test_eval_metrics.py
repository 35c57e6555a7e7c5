"""FAD, KL, IS, hit-rate, reconstruction errors, configs and tables, on data made here."""

import numpy as np
import pytest
from scipy import linalg

from t2a_edge.apps.evaluation import generation, metrics, recon, report, scoring
from t2a_edge.core.errors import T2AError


def scipy_frechet(a, b):
    """The textbook formula with scipy's sqrtm, as an independent reference."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(s_a @ s_b).real
    return ((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * root)


def test_frechet_matches_scipy_and_is_zero_on_itself():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 16)) @ rng.standard_normal((16, 16))
    b = rng.standard_normal((200, 16)) + 0.5
    assert metrics.frechet_distance(a, b) == pytest.approx(scipy_frechet(a, b), rel=1e-6)
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_frechet_grows_when_a_set_is_replaced_by_noise():
    rng = np.random.default_rng(1)
    # Low-rank "embeddings" (as real ones are), more dimensions than samples: the covariance is singular.
    basis = rng.standard_normal((8, 64))
    real = np.abs(rng.standard_normal((40, 8)) @ basis)
    similar = np.abs(rng.standard_normal((40, 8)) @ basis)
    noise = rng.uniform(0, 3, (40, 64))
    same = metrics.frechet_distance(real, real)
    near = metrics.frechet_distance(real, similar)
    far = metrics.frechet_distance(real, noise)
    assert same < 1e-6 < near < far


def test_kl_zero_for_identical_and_positive_otherwise():
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(521), size=5)
    assert metrics.paired_kl(p, p) == pytest.approx(0.0, abs=1e-9)
    q = rng.dirichlet(np.ones(521), size=5)
    assert metrics.paired_kl(p, q) > 0.1
    # Direction is KL(reference || generated).
    a, b = np.array([[0.9, 0.1]]), np.array([[0.5, 0.5]])
    expected = 0.9 * np.log(0.9 / 0.5) + 0.1 * np.log(0.1 / 0.5)
    assert metrics.paired_kl(a, b) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError):
        metrics.paired_kl(p, q[:3])


def test_inception_score_bounds():
    one_hot = np.eye(10)
    assert metrics.inception_score(one_hot) == pytest.approx(10.0, rel=1e-6)  # sharp and diverse
    assert metrics.inception_score(np.tile(one_hot[:1], (10, 1))) == pytest.approx(1.0, rel=1e-6)
    assert metrics.inception_score(np.full((10, 10), 0.1)) == pytest.approx(1.0, rel=1e-6)


def test_hit_rate_with_explicit_map():
    accepted = {"dog": ("Dog", "Bark"), "rain": ("Rain",), "mystery": ()}.__getitem__
    tops = [["Dog", "Animal"], ["Speech", "Music"], ["Rain on surface", "Rain"], ["Silence"]]
    rate, per = metrics.hit_rate(tops, ["dog", "dog", "rain", "mystery"], accepted)
    assert rate == pytest.approx(2 / 3)  # the unmapped category is left out, not a miss
    assert per == {"dog": {"hits": 1, "clips": 2, "rate": 0.5}, "rain": {"hits": 1, "clips": 1, "rate": 1.0}}
    assert metrics.hit_rate([["Dog"]], ["cat"], {}.__getitem__) == (None, {})
    assert metrics.top_k(np.array([0.1, 0.7, 0.3]), ["a", "b", "c"], 2) == ["b", "c"]


def test_shuffled_hit_rate_tells_one_sound_for_every_prompt_from_following_prompts():
    accepted = {"dog": ("Dog",), "rain": ("Rain",), "bell": ("Bell",), "mystery": ()}.__getitem__
    categories = ["dog", "rain", "bell", "mystery"]
    following = [["Dog"], ["Rain"], ["Bell"], ["Dog"]]  # each clip sounds like its own prompt
    assert metrics.hit_rate(following, categories, accepted)[0] == 1.0
    assert metrics.shuffled_hit_rate(following, categories, accepted) == 0.0
    one_sound = [["Dog", "Rain", "Bell"]] * 4  # every clip meets every category: prompts do not matter
    assert metrics.shuffled_hit_rate(one_sound, categories, accepted) == 1.0
    partly = [["Dog", "Rain"], ["Rain"], ["Bell"], []]  # the unmapped 'mystery' clip is left out
    assert metrics.shuffled_hit_rate(partly, categories, accepted) == pytest.approx((1 / 2 + 0 + 0) / 3)
    assert metrics.shuffled_hit_rate([["Dog"]], ["dog"], accepted) is None


def test_reconstruction_errors():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(16000) * 0.1
    assert recon.mel_l1(x, x) == 0.0 and recon.multi_resolution_stft(x, x) == 0.0
    slightly = x + rng.standard_normal(16000) * 0.001
    very = rng.standard_normal(16000) * 0.1
    assert 0 < recon.mel_l1(x, slightly) < recon.mel_l1(x, very)
    assert 0 < recon.multi_resolution_stft(x, slightly[:15800]) < recon.multi_resolution_stft(x, very)
    assert recon.cosine([1, 0], [1, 0]) == pytest.approx(1.0) and recon.cosine([1, 0], [0, 2]) == 0.0


def test_parse_config():
    teacher = generation.parse_config("teacher")
    assert (teacher.steps, teacher.teacher_steps, teacher.label) == (64, 100, "teacher:K=64,S=100")
    student = generation.parse_config("student:K=1,cfg=2.5,temp=0.7,backend=onnx")
    assert (student.steps, student.teacher_steps, student.cfg, student.temperature, student.backend) == \
        (1, None, 2.5, 0.7, "onnx")
    assert generation.parse_config("student:K=1,corr=4").noise_correlation == 4.0
    assert generation.parse_config("teacher:K=2,anchors=4").anchors == 4
    assert generation.generation_kwargs(generation.parse_config("student:K=1,spread=0.7"), None) == \
        {"steps": 1, "spread": 0.7}
    assert generation.generation_kwargs(generation.parse_config("student:K=1,corr=2"), 5.0) == \
        {"seconds": 5.0, "steps": 1, "noise_correlation": 2.0}
    for bad in ("studnet:K=8", "student:S=10", "student:K=x", "student:K", "teacher:K=0", "student:Q=1",
                "teacher:corr=2", "student:corr=-1", "student:corr=nan", "student:anchors=-1", "student:anchors=1.5",
                "student:spread=0", "student:spread=x"):
        with pytest.raises(T2AError):
            generation.parse_config(bad)


def test_clip_seed_is_stable_and_distinct():
    assert generation.clip_seed("dog_01") == generation.clip_seed("dog_01")
    assert generation.clip_seed("dog_01") != generation.clip_seed("dog_02")
    assert generation.clip_seed("dog_01", 1) != generation.clip_seed("dog_01", 0)


def test_halves_are_balanced_per_category():
    items = [scoring.Item(f"{c}{i}", c, c, None) for c in "abcd" for i in range({"a": 5, "b": 5, "c": 1, "d": 1}[c])]
    first, second = scoring.halves(items)
    assert sorted(first + second) == list(range(12)) and len(first) == len(second) == 6
    for cat in "ab":
        n_first = sum(items[i].category == cat for i in first)
        assert n_first in (2, 3)
    assert {items[i].category for i in first} & {"c", "d"} and {items[i].category for i in second} & {"c", "d"}


def test_markdown_table():
    rows = [{"system": "real", "clips": 4, "fad": 1.234, "kl": None, "is": 2.0, "hit_rate": 0.5},
            {"system": "student:K=8", "clips": 4, "fad": 9.0, "kl": 0.25, "is": 1.5, "hit_rate": None,
             "latency_s": 0.5, "rtf": 0.1}]
    text = report.markdown(rows, notes=None)
    lines = text.strip().splitlines()
    assert lines[0].startswith("| system | clips | FAD")
    assert "| real | 4 | 1.23 | – | 2.00 | 50.0% | – | – |" in lines
    assert "| student:K=8 | 4 | 9.00 | 0.250 | 1.50 | – | 0.50 | 0.100 |" in lines
