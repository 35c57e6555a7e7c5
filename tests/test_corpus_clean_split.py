"""Audio cleaning (trim, windows, loudness) and the grouped, stratified test split."""

from __future__ import annotations

import numpy as np

from t2a_edge.train.corpus import clean
from t2a_edge.train.corpus.split import assign_splits, check_no_leak, group_key
from t2a_edge.train.manifest import Clip

SR = 16000


def tone(seconds: float, amp: float = 0.1, freq: float = 440.0, rate: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_trim_removes_leading_and_trailing_silence():
    x = np.concatenate([np.zeros(SR), tone(1.0), np.zeros(2 * SR)]).astype(np.float32)
    y = clean.trim(x)
    assert 0.98 * SR < len(y) < 1.1 * SR
    assert len(clean.trim(np.zeros(SR, dtype=np.float32))) == 0


def test_clean_resamples_downmixes_normalises_and_drops_blips():
    stereo = np.stack([tone(2.0, 0.01, rate=44100), tone(2.0, 0.01, rate=44100)], axis=1)
    (pcm,) = clean.clean(stereo, 44100)
    assert pcm.dtype == np.int16 and abs(len(pcm) / SR - 2.0) < 0.05
    level = 20 * np.log10(np.sqrt(np.mean((pcm / 32767.0) ** 2)))
    assert abs(level - clean.TARGET_DBFS) < 1.0
    loud = tone(1.0, 0.99)
    (pcm,) = clean.clean(loud[:, None] * 1.0, SR)
    assert np.abs(pcm).max() <= 32767 * clean.PEAK_LIMIT + 1
    assert clean.clean(tone(0.2)[:, None], SR) == []  # a blip under 0.3 s


def test_long_loops_are_cut_into_5_to_10_second_windows_and_silent_ones_dropped():
    for seconds in (10.5, 23.0, 121.0):
        parts = clean.windows(tone(seconds))
        assert all(5 * SR <= len(p) <= 10 * SR for p in parts)
        assert sum(len(p) for p in parts) == int(seconds * SR)
    loop = np.concatenate([tone(20.0), tone(10.0, 0.002)])  # the last window is 34 dB quieter
    parts = clean.clean(loop[:, None], SR)
    assert len(parts) == 2 and all(5 * SR <= len(p) <= 10 * SR for p in parts)


def test_pcm_hash_identifies_identical_content():
    a = clean.to_pcm16(tone(1.0))
    assert clean.pcm_hash(a) == clean.pcm_hash(a.copy())
    assert clean.pcm_hash(a) != clean.pcm_hash(clean.to_pcm16(tone(1.0, freq=441)))


def make_clips() -> list[Clip]:
    clips = []
    rng = np.random.default_rng(0)
    for c, category in enumerate(["rain", "dog", "footsteps", "bell"]):
        for take in range(int(rng.integers(8, 30))):
            windows = 12 if category == "rain" and take % 5 == 0 else 1
            for w in range(windows):
                clips.append(Clip(id=f"{category}-{take}-{w}", audio="x.flac", captions=[category], category=category,
                                  split="", duration=5.0, source=f"pkg{take % 3}",
                                  source_path=f"sounds/{category}/{category}{take // 2}_{take % 2}.ogg",
                                  extra={"window": w}))
    return clips


def test_split_is_about_ten_percent_per_category_without_leaks():
    clips = make_clips()
    assign_splits(clips)
    assert check_no_leak(clips) == []
    for category in {c.category for c in clips}:
        mine = [c for c in clips if c.category == category]
        test = sum(c.split == "test" for c in mine)
        assert 1 <= test <= max(0.25 * len(mine), 2), (category, test, len(mine))
    # windows of one loop, and numbered takes of one sound, are never split apart
    groups = {}
    for clip in clips:
        groups.setdefault(group_key(clip), set()).add(clip.split)
    assert all(len(sides) == 1 for sides in groups.values())
    assert group_key(clips[0]) == group_key(Clip(**{**clips[0].__dict__, "source_path":
                                                   clips[0].source_path.replace("0_0", "0_1")}))


def test_split_is_deterministic_and_detects_leaks():
    a, b = make_clips(), make_clips()[::-1]
    assign_splits(a)
    assign_splits(b)
    assert {c.id: c.split for c in a} == {c.id: c.split for c in b}
    a[0].split = "test" if a[0].split == "train" else "train"
    siblings = [c for c in a if group_key(c) == group_key(a[0])]
    if len(siblings) > 1:
        assert check_no_leak(a) == [group_key(a[0])]


def test_a_category_with_one_recording_stays_in_train():
    clips = [Clip(id=f"w{i}", audio="x", captions=["wind"], category="wind", split="", duration=8.0,
                  source="p", source_path="ambient/wind.ogg") for i in range(15)]
    assign_splits(clips)
    assert {c.split for c in clips} == {"train"}
