"""`t2a-edge cache`: bundles nothing reads any more are found and removed; bundles in use are kept."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest
import torch

from t2a_edge.convert.export import random_student
from t2a_edge.core.bundle import BUNDLE_FORMAT, CONVERTER_VERSION, COMPONENT_NAMES
from t2a_edge.core.model import save_model
from t2a_edge.core.model_files import sha256_file
from t2a_edge.core.text import TextEncoder
from t2a_edge.runtimes import bundle_cache, select


def cache_cli(capsys, *args) -> dict | str:
    from t2a_edge.apps.cli import main

    main(["cache", *args])
    out = capsys.readouterr().out
    return json.loads(out) if "--json" in args else out


def by_name(listing: dict) -> dict:
    return {f"{b['model_sha']}/{b['name']}": b for b in listing["bundles"]}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("T2A_EDGE_CACHE", str(root))
    return root


def fake_bundle(root, model_folder, name="onnx-int8", converter=CONVERTER_VERSION, size=1000) -> os.PathLike:
    """A cache entry shaped like a converted bundle of `model_folder` (no runtime files needed)."""
    sha = select.model_sha(model_folder)
    folder = root / "bundles" / sha / name
    folder.mkdir(parents=True)
    components = {}
    for c in COMPONENT_NAMES:  # each file present and listed with its sha256: `cache list` checks them
        (folder / f"{c}.onnx").write_bytes(b"x" * (size if c == "step" else 10))
        components[c] = {"file": f"{c}.onnx", "files": {f"{c}.onnx": sha256_file(folder / f"{c}.onnx")}}
    manifest = {"format": BUNDLE_FORMAT, "backend": name.split("-")[0], "precision": name.split("-")[1],
                "config": {}, "components": components, "converter": converter,
                "model": {"sha": sha, "source": str(model_folder)}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def model_folder(path):
    path.mkdir(parents=True)
    (path / "model.json").write_text(json.dumps({"name": path.name}))  # one cache key per folder
    return path


def test_a_real_cached_bundle_goes_stale_when_its_model_changes(cache, tmp_path, monkeypatch, capsys):
    torch.manual_seed(1)
    encoder = TextEncoder(layers=1, heads=2, hidden=64).eval()
    monkeypatch.setattr(TextEncoder, "pretrained", classmethod(lambda cls, folder=None: encoder))
    student = tmp_path / "student"
    save_model(random_student("tiny", seed=2), student, extra={"defaults": {"steps": 2, "seconds": 1.0}})
    bundle, converted = select.ensure_bundle(student, "onnx", "fp32", progress=False)
    assert converted
    listing = cache_cli(capsys, "list", "--json")
    [entry] = listing["bundles"]
    assert entry["status"] == "current" and not entry["stale"] and entry["source"] == str(student.resolve())
    assert entry["bytes"] == bundle_cache.folder_bytes(bundle) > 0
    assert "nothing to remove" in cache_cli(capsys, "clean")
    assert bundle.is_dir()

    # The same folder retrained (here: other defaults) has another model.json, so another cache key.
    save_model(random_student("tiny", seed=2), student, extra={"defaults": {"steps": 1, "seconds": 1.0}})
    [entry] = cache_cli(capsys, "list", "--json")["bundles"]
    assert entry["stale"] and "model changed" in entry["status"]
    out = cache_cli(capsys, "clean", "--dry-run")
    assert "would remove" in out and bundle.is_dir()
    out = cache_cli(capsys, "clean")
    assert f"removed {bundle}" in out and not bundle.exists() and not bundle.parent.exists()
    assert cache_cli(capsys, "list", "--json")["bundles"] == []
    again, converted = select.ensure_bundle(student, "onnx", "fp32", progress=False)  # made again on use
    assert converted and again != bundle and select._current(again)


def test_a_conversion_says_when_old_bundles_are_left(cache, tmp_path, monkeypatch):
    """Loading a backend that converts a bundle names the unused ones `cache clean` would remove."""
    torch.manual_seed(1)
    encoder = TextEncoder(layers=1, heads=2, hidden=64).eval()
    monkeypatch.setattr(TextEncoder, "pretrained", classmethod(lambda cls, folder=None: encoder))
    student = tmp_path / "student"
    save_model(random_student("tiny", seed=2), student, extra={"defaults": {"steps": 2, "seconds": 1.0}})
    _, _, why = select.load_backend(student, "onnx", "fp32", progress=False)
    assert "converted now" in why and "cache clean" not in why
    save_model(random_student("tiny", seed=2), student, extra={"defaults": {"steps": 1, "seconds": 1.0}})
    _, _, why = select.load_backend(student, "onnx", "fp32", progress=False)
    assert "converted now" in why
    assert "the cache holds 1 bundle nothing reads any more" in why and "t2a-edge cache clean removes it" in why
    _, _, why = select.load_backend(student, "onnx", "fp32", progress=False)
    assert "from the cache" in why and "cache clean" not in why  # said once, on conversion


def test_clean_sorts_every_kind_of_entry(cache, tmp_path, capsys):
    kept = model_folder(tmp_path / "kept")
    changed = model_folder(tmp_path / "changed")
    gone = model_folder(tmp_path / "gone")
    current = fake_bundle(cache, kept, "onnx-int8", size=3000)
    old_converter = fake_bundle(cache, kept, "openvino-int8", converter=CONVERTER_VERSION - 1)
    stale = fake_bundle(cache, changed)
    (changed / "model.json").write_text('{"retrained": true}')
    orphan = fake_bundle(cache, gone)
    shutil.rmtree(gone)
    unreadable = current.parent / "executorch-fp32"
    unreadable.mkdir()
    (unreadable / "manifest.json").write_text("{not json")
    young = current.parent / ".onnx-fp32.abc.part"  # a conversion running in another process
    young.mkdir()
    (young / "step.onnx").write_bytes(b"y" * 10)
    old = current.parent / ".openvino-fp32.def.part"  # one killed two hours ago
    old.mkdir()
    (old / "step.onnx").write_bytes(b"z" * 10)
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))

    status = {key: entry["status"] for key, entry in by_name(cache_cli(capsys, "list", "--json")).items()}
    here = current.parent.name
    assert status[f"{here}/onnx-int8"] == "current"
    assert "older converter" in status[f"{here}/openvino-int8"]
    assert "unreadable" in status[f"{here}/executorch-fp32"]
    assert "may still be writing" in status[f"{here}/.onnx-fp32.abc.part"]
    assert "interrupted" in status[f"{here}/.openvino-fp32.def.part"]
    assert "model changed" in status[f"{stale.parent.name}/onnx-int8"]
    assert "gone" in status[f"{orphan.parent.name}/onnx-int8"]
    text = cache_cli(capsys, "list")
    assert "5 unused" in text and "t2a-edge cache clean" in text

    out = cache_cli(capsys, "clean")
    assert "removed 5 folders" in out and "kept 1 folder of a conversion that may still be running" in out
    assert current.is_dir() and young.is_dir()
    for path in (old_converter, stale, orphan, unreadable, old):
        assert not path.exists()
    assert not stale.parent.exists() and not orphan.parent.exists()

    out = cache_cli(capsys, "clean", "--all")
    assert "removed 1 folder," in out and not current.exists() and young.is_dir()  # never a running conversion


def test_features_are_removed_only_when_asked(cache, capsys):
    features = cache / "judge" / "features" / "v1"
    features.mkdir(parents=True)
    (features / "a.npz").write_bytes(b"f" * 2048)
    (cache / "judge" / "yamnet.onnx").write_bytes(b"m")
    assert "nothing to remove" in cache_cli(capsys, "clean")
    assert features.is_dir()
    out = cache_cli(capsys, "clean", "--features", "--dry-run")
    assert "would remove" in out and features.is_dir()
    out = cache_cli(capsys, "clean", "--features")
    assert "judge features" in out and not (cache / "judge" / "features").exists()
    assert (cache / "judge" / "yamnet.onnx").is_file()  # the judge model itself stays
