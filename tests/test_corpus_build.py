"""The corpus build end to end on .deb packages made here: idempotence, resume, zip streaming, CLI."""

from __future__ import annotations

import errno
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from t2a_edge.core.errors import T2AError
from t2a_edge.train.corpus import apt, build as build_mod, sources
from t2a_edge.train.corpus.sources import R, Source
from t2a_edge.train.manifest import read_manifest

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")

SR = 16000
FILES_PKG = "t2a-test-sounds"
ZIP_PKG = "t2a-test-zipped"


def wav_bytes(seconds: float, freq: float, rate: int = 22050, noise: bool = False, seed: int = 0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    if noise:
        x = 0.2 * np.random.default_rng(seed).standard_normal(len(t))
    else:
        x = 0.3 * np.sin(2 * np.pi * freq * t) * np.exp(-t)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([x, x], axis=1), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: The Testers
License: GPL-2+

Files: sounds/dog*
Copyright: A Dog Owner
License: CC0-1.0
"""


def make_deb(folder: Path, package: str, files: dict[str, bytes]) -> Path:
    root = folder / f"{package}-root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\n"
        "Description: test sounds\n")
    files = dict(files, **{f"usr/share/doc/{package}/copyright": COPYRIGHT.encode()})
    for path, data in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    deb = folder / apt.deb_filename(package, "1.0")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-b", str(root), str(deb)], check=True,
                   capture_output=True)
    shutil.rmtree(root)
    return deb


@pytest.fixture
def fake_packages(tmp_path, monkeypatch):
    debs = tmp_path / "debs"
    debs.mkdir()
    base = f"usr/share/{FILES_PKG}/sounds/"
    make_deb(debs, FILES_PKG, {
        base + "dog1.wav": wav_bytes(1.5, 500), base + "dog2.wav": wav_bytes(1.2, 700),
        base + "dog3.wav": wav_bytes(1.2, 700),  # same sound again: must be deduplicated
        base + "rain.wav": wav_bytes(31.0, 0, noise=True),  # a loop: cut into windows
        base + "click.wav": wav_bytes(0.1, 900),  # a UI blip: too short
        base + "theme.wav": wav_bytes(3.0, 300),  # music: no rule takes it
    })
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("audio/bell_01.wav", wav_bytes(2.0, 880))
        z.writestr(zipfile.ZipInfo("audio/bell_02.wav"), wav_bytes(2.0, 1200), compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("art/x.png", b"png")
    make_deb(debs, ZIP_PKG, {f"usr/share/{ZIP_PKG}/data.zip": buffer.getvalue()})
    monkeypatch.setitem(sources.SOURCES, FILES_PKG, Source(
        FILES_PKG, "tsnd", "GPL-2+", "files", r"/sounds/.*\.wav$",
        rules=(R(r"/dog\d", "dog", "a dog barks|a barking dog"), R(r"/rain", "rain", "rain falling|rain"),
               R(r"/click", "door", "a click"))))
    monkeypatch.setitem(sources.SOURCES, ZIP_PKG, Source(
        ZIP_PKG, "tzip", "CC-BY-3.0", "zip", r"data\.zip$", inner=r"^audio/.*\.wav$",
        rules=(R(r"bell_", "bell", "a bell rings|a ringing bell"),)))
    monkeypatch.setattr(apt, "candidate_version", lambda package: "1.0")
    monkeypatch.setattr(apt, "require_tools", lambda: None)

    def no_download(*args):
        raise AssertionError("the test must not download")
    monkeypatch.setattr(apt, "download", no_download)
    return debs


def run(dest, debs, **kw):
    return build_mod.build(dest, [FILES_PKG, ZIP_PKG], jobs=kw.pop("jobs", 1), debs=debs, progress=False, **kw)


def test_build_writes_clean_clips_and_a_manifest(tmp_path, fake_packages):
    dest = tmp_path / "corpus"
    report = run(dest, fake_packages)
    clips = read_manifest(dest)
    by_cat = {}
    for clip in clips:
        by_cat.setdefault(clip.category, []).append(clip)
    assert set(by_cat) == {"dog", "rain", "bell"}  # the blip is too short; the theme has no rule
    assert len(by_cat["dog"]) == 2 and report.dropped_duplicates == 1  # dog3 is dog2 again
    assert len(by_cat["rain"]) == 4 and all(5.0 <= c.duration <= 10.0 for c in by_cat["rain"])
    assert len(by_cat["bell"]) == 2
    for clip in clips:
        data, rate = sf.read(clip.audio)
        assert rate == SR and data.ndim == 1 and abs(len(data) / SR - clip.duration) < 1e-3
        assert clip.captions[0] and len(clip.captions) >= 2 and clip.split in ("train", "test")
        assert clip.source_version == "1.0"
    dog = by_cat["dog"][0]
    assert dog.license == "CC0-1.0" and dog.extra["copyright"] == "A Dog Owner"
    assert by_cat["rain"][0].license == "GPL-2+"
    bell = by_cat["bell"][0]
    assert bell.source_path.startswith(f"usr/share/{ZIP_PKG}/data.zip!audio/bell_")
    assert (dest / "manifest.sha256").read_text().split()[0] == report.manifest_sha256
    assert (dest / "copyright" / f"{FILES_PKG}.txt").is_file()
    assert not list(dest.glob(".build-*"))


def test_second_run_does_nothing_and_gives_the_same_manifest(tmp_path, fake_packages, monkeypatch):
    dest = tmp_path / "corpus"
    first = run(dest, fake_packages)
    mtimes = {p: p.stat().st_mtime_ns for p in dest.rglob("*.flac")}
    monkeypatch.setattr(build_mod, "build_source", lambda *a, **k: pytest.fail("rebuilt a current source"))
    second = run(dest, fake_packages)
    assert second.built == [] and sorted(second.reused) == sorted([FILES_PKG, ZIP_PKG])
    assert second.manifest_sha256 == first.manifest_sha256
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*.flac")} == mtimes


def test_missing_clip_file_rebuilds_only_its_source_and_parallel_matches(tmp_path, fake_packages):
    dest = tmp_path / "corpus"
    first = run(dest, fake_packages, jobs=2)
    next(iter((dest / "audio" / "tzip").glob("*.flac"))).unlink()
    second = run(dest, fake_packages)
    assert second.built == [ZIP_PKG] and second.reused == [FILES_PKG]
    assert second.manifest_sha256 == first.manifest_sha256


def test_interrupted_run_leaves_no_partial_files_and_resumes(tmp_path, fake_packages, monkeypatch):
    dest = tmp_path / "corpus"
    real = build_mod.process_file
    calls = []

    def crash_on_third(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(build_mod, "process_file", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        run(dest, fake_packages)
    assert not (dest / "manifest.jsonl").exists()
    assert not list(dest.rglob("*.part")) and not list(dest.glob(".build-*"))
    assert not (dest / "sources" / f"{FILES_PKG}.json").exists()
    monkeypatch.setattr(build_mod, "process_file", real)
    resumed = run(dest, fake_packages)
    fresh = run(tmp_path / "fresh", fake_packages)
    assert resumed.manifest_sha256 == fresh.manifest_sha256


def test_cli_build_stats_and_licenses(tmp_path, fake_packages):
    from click.testing import CliRunner

    from t2a_edge.apps.data_cmd import data

    dest = tmp_path / "corpus"
    runner = CliRunner()
    result = runner.invoke(data, ["build", "--dest", str(dest), "--sources", f"{FILES_PKG},{ZIP_PKG}",
                                  "--debs", str(fake_packages), "--jobs", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "total" in result.output and "manifest" in result.output and "sha256" in result.output
    result = runner.invoke(data, ["stats", "--dest", str(dest), "--json"])
    stats = json.loads(result.output)
    assert stats["clips"] == 8 and set(stats["categories"]) == {"dog", "rain", "bell"}
    assert set(stats["sources"]) == {FILES_PKG, ZIP_PKG} and set(stats["splits"]) <= {"train", "test"}
    assert abs(stats["minutes"] - sum(v["minutes"] for v in stats["categories"].values())) < 0.05
    out = tmp_path / "LICENSES.md"
    result = runner.invoke(data, ["licenses", "--dest", str(dest), "-o", str(out)])
    assert result.exit_code == 0
    text = out.read_text()
    assert "CC0-1.0" in text and "A Dog Owner" in text and f"## {ZIP_PKG} 1.0" in text
    out.write_text("edited by hand")
    result = runner.invoke(data, ["licenses", "--dest", str(dest), "-o", str(out)])
    assert isinstance(result.exception, T2AError) and "already exists: pass --force" in str(result.exception)
    assert out.read_text() == "edited by hand"
    result = runner.invoke(data, ["licenses", "--dest", str(dest), "-o", str(out), "--force"])
    assert result.exit_code == 0 and out.read_text() == text


def test_user_mistakes_are_one_line_errors(tmp_path, fake_packages):
    with pytest.raises(T2AError, match="unknown source"):
        build_mod.build(tmp_path / "c", ["no-such-package"], progress=False)
    with pytest.raises(T2AError, match="--jobs"):
        build_mod.build(tmp_path / "c", [FILES_PKG], jobs=0, progress=False)
    with pytest.raises(T2AError, match="no corpus manifest"):
        read_manifest(tmp_path / "empty")


def test_apt_messages_name_the_command(monkeypatch, tmp_path):
    monkeypatch.setattr(apt.shutil, "which", lambda tool: None)
    with pytest.raises(T2AError, match="apt-get.*not found.*Debian"):
        apt.require_tools()

    class Result:
        stdout, stderr, returncode = "t2a-nope:\n  Installed: (none)\n  Candidate: (none)\n", "", 0
    monkeypatch.setattr(apt, "_run", lambda *a, **k: Result())
    with pytest.raises(T2AError, match="apt-get update"):
        apt.candidate_version("t2a-nope")

    class Full:  # apt-get download into a full disk: the cause, not an `apt-get update` hint
        stdout, returncode = "", 100
        stderr = ("E: Failed to fetch http://deb.debian.org/debian/pool/main/o/openttd-opensfx/x.deb  "
                  "Error writing to file - write (28: No space left on device)\n")
    monkeypatch.setattr(apt, "_run", lambda *a, **k: Full())
    with pytest.raises(OSError) as full:
        apt.download("openttd-opensfx", "1.0.3-2", tmp_path)
    assert full.value.errno == errno.ENOSPC and full.value.filename == str(tmp_path)


def test_changed_rules_rebuild_only_that_source(tmp_path, fake_packages, monkeypatch):
    dest = tmp_path / "corpus"
    run(dest, fake_packages)
    old = sources.SOURCES[FILES_PKG]
    monkeypatch.setitem(sources.SOURCES, FILES_PKG, Source(
        old.package, old.short, old.license, old.kind, old.members,
        rules=(R(r"/dog\d", "dog", "a puppy yaps|a small dog"),) + old.rules[1:]))
    report = run(dest, fake_packages)
    assert report.built == [FILES_PKG] and report.reused == [ZIP_PKG]
    dogs = [c for c in report.clips if c.category == "dog"]
    assert dogs and all(c.captions == ["a puppy yaps", "a small dog"] for c in dogs)
