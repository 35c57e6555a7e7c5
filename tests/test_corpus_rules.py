"""Caption and category rules, the category map, and the DEP-5 license lookup."""

from __future__ import annotations

import subprocess
import sys

import pytest

from t2a_edge.core.errors import T2AError
from t2a_edge.train.corpus import captions, copyright
from t2a_edge.train.corpus.categories import CATEGORIES, accepted_classes
from t2a_edge.train.corpus.sources import (OPENSFX, SOURCES, opensfx_rule, opensfx_title_and_license,
                                           source_or_error)


def match(package: str, path: str):
    hit = SOURCES[package].match(path)
    return None if hit is None else (hit[0].category, hit[1])


def test_every_rule_uses_a_known_category_and_gives_captions():
    for source in SOURCES.values():
        for rule in source.rules:
            assert rule.category in CATEGORIES, (source.package, rule.pattern)
            fields = {"name": "a thing", "surf": "grass", "act": "open", "inst": "a cello", "mat": "wood"}
            caps = captions.expand(rule.captions, rule.category, fields)
            assert caps and all(c and "{" not in c for c in caps)
    for category, spec in OPENSFX.values():
        assert category in CATEGORIES
        assert len(captions.expand(spec, category)) >= 2


def test_curated_rules_fix_the_rough_keyword_categories():
    # An arrow hitting wood is an arrow, not a crash; a war horn is not taken at all.
    assert match("0ad-data", "audio/attack/impact/arrow_wood_03.ogg") == ("arrow", {"mat": "wood"})
    assert match("wesnoth-1.16-data", "usr/share/games/wesnoth/1.16/data/core/sounds/horn-2.ogg") is None
    # Voice lines, music and UI are never taken, but the one real dog bark among the voices is.
    assert match("0ad-data", "audio/voice/hellenes/civ/civ_male_attack.ogg") is None
    assert match("0ad-data", "audio/music/peace/track.ogg") is None
    assert match("0ad-data", "audio/interface/alarm/alarmvictory.ogg") is None
    assert match("0ad-data", "audio/voice/global/civ_dog_bark.ogg")[0] == "dog"
    assert match("megaglest-data", "usr/share/games/megaglest/techs/x/horseman_select2.wav") is None
    assert match("0ad-data", "audio/ambient/weather/windleaves_02.ogg")[0] == "rustling leaves"
    assert match("0ad-data", "audio/ambient/weather/wind_01.ogg")[0] == "wind"
    assert match("minetest-data", "usr/share/games/minetest/games/minetest_game/mods/default/sounds/"
                 "default_hard_footstep.2.ogg") == ("footsteps", {"surf": "hard"})


def test_tuxpaint_spoken_descriptions_are_skipped_and_txt_drives_captions():
    base = "usr/share/tuxpaint/stamps/animals/mammals/dogs/"
    assert match("tuxpaint-stamps-default", base + "dog_desc_fr.ogg") is None
    rule, _ = SOURCES["tuxpaint-stamps-default"].match(base + "dog.ogg")
    caps = captions.expand(rule.captions, rule.category, {"name": captions.noun_phrase("A dog.")})
    assert rule.category == "dog" and caps[0] == "a dog barking" and len(caps) == 3


def test_caption_helpers():
    assert captions.noun_phrase("A vacuum cleaner.") == "a vacuum cleaner"
    assert captions.noun_phrase("Elephant") == "an elephant"
    assert captions.noun_phrase("flute_traversiere") == "a flute traversiere"
    assert captions.clean("  A  dog barks. ") == "a dog barks"
    assert captions.expand("a {act}s|b {missing}|a {act}s", "door", {"act": "close"}) == ["a closes"]
    with pytest.raises(ValueError):
        captions.expand("{missing}", "door", {})


def test_opensfx_names_give_title_license_and_rule():
    title, credit, license_name = opensfx_title_and_license(
        '"Ship horn". Original "ship2_bergen.aif" by Leon Milo. Edited by Wuzzy. '
        "License: Creative Commons Attribution 3.0 Unported.")
    assert (title, license_name) == ("Ship horn", "CC-BY-3.0")
    assert "Leon Milo" in credit
    assert opensfx_title_and_license('"Cow". License: Creative Commons Zero 1.0.')[2] == "CC0-1.0"
    assert opensfx_title_and_license('"Heli". License: Creative Commons Attribution-ShareAlike 3.0')[2] \
        == "CC-BY-SA-3.0"
    assert opensfx_rule(6, "Ship horn")[0].category == "boat"
    assert opensfx_rule(42, "Toyland: Toy factory (1)") is None


def test_category_map_is_plain_python_and_complete():
    code = ("import sys; from t2a_edge.train.corpus.categories import CATEGORIES; "
            "assert 'torch' not in sys.modules and 'numpy' not in sys.modules; print(len(CATEGORIES))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == len(CATEGORIES) >= 25
    for required in ("dog", "cat", "bird", "cow", "sheep", "horse", "rain", "wind", "thunder", "water", "fire",
                     "car", "aircraft", "train", "footsteps", "door", "explosion", "crowd", "bell",
                     "sawing", "hammering", "musical instrument"):
        assert accepted_classes(required), required
    assert "Bark" in accepted_classes("dog") and "Dog" in accepted_classes("dog")
    for names in CATEGORIES.values():
        assert len(set(names)) == len(names) and all(n == n.strip() and n for n in names)
    with pytest.raises(T2AError, match="unknown sound category"):
        accepted_classes("unicorn")


def test_source_lookup_errors_are_one_line():
    assert source_or_error("opensfx").package == "openttd-opensfx"
    with pytest.raises(T2AError, match="unknown source 'nope'"):
        source_or_error("nope")


DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: x

Files: *
Copyright: 2014 The Team
License: GPL-3+

Files: src/activities/canal_lock/resource/water_fill.wav
Copyright: inchadney
License: CC-BY-3.0
Comment: freesound

Files: src/activities/explore_farm_animals/resource/animals/*
 src/other/*.ogg
Copyright: Someone Else
License: CC-BY-SA-4.0
 long text
"""


def test_dep5_last_matching_stanza_wins_and_suffixes_match():
    stanzas = copyright.parse(DEP5)
    assert len(stanzas) == 3
    assert copyright.license_of(stanzas, "gcompris/src/activities/canal_lock/resource/water_fill.wav") == \
        ("CC-BY-3.0", "inchadney")
    assert copyright.license_of(stanzas, "usr/share/x/src/other/a.ogg")[0] == "CC-BY-SA-4.0"
    assert copyright.license_of(stanzas, "src/activities/explore_farm_animals/resource/animals/cow.ogg")[0] \
        == "CC-BY-SA-4.0"
    assert copyright.license_of(stanzas, "usr/share/whatever.ogg")[0] == "GPL-3+"
    assert copyright.license_of([], "a.ogg", "GPL-2") == ("GPL-2", "")
