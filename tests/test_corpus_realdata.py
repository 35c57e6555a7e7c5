"""A real build of the two smallest packages (openttd-opensfx, minetest-data) through apt-get download."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest
import soundfile as sf

from t2a_edge.train.corpus.build import build
from t2a_edge.train.corpus.categories import CATEGORIES
from t2a_edge.train.corpus.sources import SMALL_SOURCES
from t2a_edge.train.corpus.split import check_no_leak
from t2a_edge.train.manifest import read_manifest

pytestmark = [pytest.mark.realdata,
              pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get (Debian/Ubuntu)")]


def test_real_build_of_the_two_smallest_packages(tmp_path):
    dest = tmp_path / "corpus"
    report = build(dest, list(SMALL_SOURCES), jobs=2, progress=False)
    assert sorted(report.built) == sorted(SMALL_SOURCES)
    assert 0 < report.peak_temp_bytes < 50e6  # the two .debs are 10 MB and 4 MB
    assert not list(dest.glob(".build-*")) and not list(dest.rglob("*.part"))

    clips = read_manifest(dest)
    assert len(clips) >= 70
    per_source = Counter(c.source for c in clips)
    assert per_source["openttd-opensfx"] >= 35 and per_source["minetest-data"] >= 35
    categories = Counter(c.category for c in clips)
    assert len(categories) >= 18 and set(categories) <= set(CATEGORIES)
    assert categories["footsteps"] >= 5 and categories["door"] >= 5 and categories["fire"] >= 5
    assert check_no_leak(clips) == []

    for clip in clips:
        info = sf.info(clip.audio)
        assert info.samplerate == 16000 and info.channels == 1 and info.format == "FLAC"
        assert 0.3 <= clip.duration <= 10.0 and abs(info.duration - clip.duration) < 1e-3
        assert clip.captions and all(clip.captions) and clip.license and clip.source_version
    horn = [c for c in clips if c.source_path.endswith("opensfx.cat!06.wav")]
    assert len(horn) == 1 and horn[0].category == "boat" and "horn" in horn[0].captions[0]
    assert horn[0].license == "CC-BY-3.0" and "Leon Milo" in horn[0].extra["credit"]
    cow = [c for c in clips if c.source_path.endswith("!37.wav")]
    assert cow and cow[0].license == "CC0-1.0"
    assert all(c.license for c in clips if c.source == "minetest-data")

    again = build(dest, list(SMALL_SOURCES), jobs=1, progress=False)
    assert again.built == [] and again.manifest_sha256 == report.manifest_sha256
