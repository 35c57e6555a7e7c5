"""No file outside its hashes, and bad input is one line (issue 45).

A bundle or model folder loads only files inside itself that its hashed list names; model.json is
validated before anything is allocated; a writer's OS error is one line, and the checks run before
anything is written; a tampered cached bundle is marked by `cache list` and the repair the error
prints works as printed; an over-long prompt says what the model reads.
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest
import torch

from t2a_edge.core.bundle import BUNDLE_FORMAT, COMPONENT_NAMES, CONVERTER_VERSION, MANIFEST
from t2a_edge.core.errors import T2AError
from t2a_edge.core.model_files import sha256_file
from t2a_edge.core.text import TextEncoder

DEFAULTS = {"steps": 1, "seconds": 1.0, "cfg": 1.0}


def one_error_line(code, err, *patterns):
    """Exit 2, one `error:` line holding every pattern, no traceback."""
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    for pattern in patterns:
        assert pattern in lines[0], err
    return lines[0]


@pytest.fixture(autouse=True)
def tiny_text_encoder(monkeypatch):
    """A one-layer text encoder in place of MiniLM's weights: fast to load and to convert."""
    torch.manual_seed(1)
    encoder = TextEncoder(layers=1, heads=2, hidden=64).eval()
    monkeypatch.setattr(TextEncoder, "pretrained", classmethod(lambda cls, folder=None: encoder))
    return encoder


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """A saved random-weight tiny student (kept intact: tests copy it before changing it)."""
    from t2a_edge.convert.export import random_student
    from t2a_edge.core.model import save_model

    return save_model(random_student("tiny", seed=2), tmp_path_factory.mktemp("models") / "student",
                      extra={"defaults": DEFAULTS})


def copy_model(student, where: Path) -> Path:
    shutil.copytree(student, where)
    return where


def edit_model_json(folder: Path, edit) -> None:
    meta = json.loads((folder / "model.json").read_text())
    edit(meta)
    (folder / "model.json").write_text(json.dumps(meta))


# -- a bundle opens only files its manifest hashes -------------------------------------------------

def fake_bundle(folder: Path) -> Path:
    """A bundle folder whose components are small files, each listed with its sha256."""
    folder.mkdir(parents=True)
    components = {}
    for name in COMPONENT_NAMES:
        (folder / f"{name}.onnx").write_bytes(name.encode() * 10)
        components[name] = {"file": f"{name}.onnx", "files": {f"{name}.onnx": sha256_file(folder / f"{name}.onnx")}}
    manifest = {"format": BUNDLE_FORMAT, "backend": "onnx", "precision": "fp32", "config": {},
                "components": components, "converter": CONVERTER_VERSION}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return folder


def edit_manifest(folder: Path, edit) -> None:
    manifest = json.loads((folder / MANIFEST).read_text())
    edit(manifest)
    (folder / MANIFEST).write_text(json.dumps(manifest))


def open_bundle(folder: Path) -> list[Path]:
    """Load a bundle with a backend that records the paths it is told to open; returns them."""
    from t2a_edge.runtimes.bundle_backend import BundleBackend

    opened = []

    class Recorder(BundleBackend):
        name = "onnx"

        def _open(self, component, path):
            opened.append(Path(path))
            return None

    Recorder(folder, threads=1)
    return opened


def test_a_sound_bundle_opens_its_own_listed_files(tmp_path):
    bundle = fake_bundle(tmp_path / "bundle")
    assert open_bundle(bundle) == [bundle / f"{name}.onnx" for name in COMPONENT_NAMES]


@pytest.mark.parametrize("where", ["../outside.onnx", "{outside}", "unlisted.onnx"])
def test_a_manifest_file_outside_its_hashed_files_is_refused(tmp_path, where):
    """The hashes cover `files` while the runtime opens `file`: a `file` not among them (outside the
    bundle, an absolute path, or an unlisted file inside) was opened unchecked."""
    bundle = fake_bundle(tmp_path / "bundle")
    outside = tmp_path / "outside.onnx"
    outside.write_bytes(b"not what the manifest hashed")
    (bundle / "unlisted.onnx").write_bytes(b"unhashed")
    edit_manifest(bundle, lambda m: m["components"]["step"].update(file=where.format(outside=outside)))
    with pytest.raises(T2AError, match="step") as caught:
        open_bundle(bundle)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("key", ["../outside.onnx", "{outside}"])
def test_a_hashed_file_outside_the_bundle_is_refused(tmp_path, key):
    """A listed file with the right hash is still refused when it lies outside the bundle."""
    bundle = fake_bundle(tmp_path / "bundle")
    outside = tmp_path / "outside.onnx"
    outside.write_bytes(b"elsewhere")
    key = key.format(outside=outside)

    def edit(manifest):
        manifest["components"]["step"] = {"file": key, "files": {key: sha256_file(outside)}}

    edit_manifest(bundle, edit)
    with pytest.raises(T2AError, match="outside"):
        open_bundle(bundle)


def test_a_bundle_file_linked_to_outside_is_refused(tmp_path):
    bundle = fake_bundle(tmp_path / "bundle")
    outside = tmp_path / "outside.onnx"
    outside.write_bytes((bundle / "step.onnx").read_bytes())
    (bundle / "step.onnx").unlink()
    (bundle / "step.onnx").symlink_to(outside)
    with pytest.raises(T2AError, match="outside"):
        open_bundle(bundle)


# -- a model folder loads only its own listed weights -----------------------------------------------

def test_a_weight_key_leading_out_of_the_model_folder_is_refused(student, tmp_path, cli):
    from t2a_edge.core.model import load_model

    model = copy_model(student, tmp_path / "a" / "model")
    elsewhere = tmp_path / "b"
    elsewhere.mkdir()
    [name] = [n for n in json.loads((model / "model.json").read_text())["files"]]
    shutil.move(model / name, elsewhere / name)

    def edit(meta):
        meta["files"] = {f"../../b/{name}": meta["files"][name]}

    edit_model_json(model, edit)
    with pytest.raises(T2AError, match="outside"):
        load_model(model)
    code, _, err = cli(["generate", "dog", "--model", str(model), "--backend", "torch", "-o", str(tmp_path / "x.wav")])
    one_error_line(code, err, "outside", "model.json")
    assert not (tmp_path / "x.wav").exists()


def test_an_absolute_weight_key_is_refused(student, tmp_path):
    from t2a_edge.core.model import load_model

    model = copy_model(student, tmp_path / "model")
    [name] = json.loads((model / "model.json").read_text())["files"]
    edit_model_json(model, lambda meta: meta.update(files={str(model / name): meta["files"][name]}))
    with pytest.raises(T2AError, match="outside|inside"):
        load_model(model)


# -- model.json validated before anything is allocated ---------------------------------------------

BAD_CONFIGS = {
    "width 1e9": (lambda c: c["backbone"].update(width=1e9), "backbone.width"),
    "width wide": (lambda c: c["backbone"].update(width="wide"), "backbone.width"),
    "width 10**9": (lambda c: c["backbone"].update(width=10**9), "backbone.width"),
    "heads not dividing width": (lambda c: c["backbone"].update(heads=3), "heads"),
    "zero depth": (lambda c: c["backbone"].update(depth=0), "backbone.depth"),
    "negative latent": (lambda c: c["codec"].update(latent_dim=-8), "codec.latent_dim"),
    "bool for int": (lambda c: c.update(patch=True), "patch"),
    "hours long": (lambda c: c.update(max_seconds=1e9), "max_seconds"),
    "nan seconds": (lambda c: c.update(max_seconds=float("nan")), "max_seconds"),
    "a dropped variant switched on": (lambda c: c["backbone"].update(local_kernel=3), "local_kernel"),
    "odd rotary channels": (lambda c: c["backbone"].update(rope_dims=3), "rope_dims"),
    "string flag": (lambda c: c["backbone"].update(global_text="yes"), "global_text"),
    "codec not a table": (lambda c: c.update(codec=[1, 2]), "codec"),
    "unknown key": (lambda c: c["head"].update(colour="blue"), "colour"),
    "text tokens 10**6": (lambda c: c["backbone"].update(text_tokens=10**6), "text_tokens"),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_a_bad_config_is_one_line_before_any_allocation(student, tmp_path, monkeypatch, cli, case):
    from t2a_edge.core import model as model_module

    edit, field = BAD_CONFIGS[case]
    model = copy_model(student, tmp_path / "model")
    edit_model_json(model, lambda meta: edit(meta["config"]))

    def no_allocation(*args, **kwargs):
        raise AssertionError("the model was built from a config that should have been refused")

    monkeypatch.setattr(model_module.T2AModel, "__init__", no_allocation)
    code, _, err = cli(["generate", "dog", "--model", str(model), "--backend", "torch", "-o", str(tmp_path / "x.wav")])
    one_error_line(code, err, "model.json", field)
    for backend in ("onnx", "auto"):  # the edge path converts: refused before that too
        code, _, err = cli(["generate", "dog", "--model", str(model), "--backend", backend,
                            "-o", str(tmp_path / "x.wav")])
        one_error_line(code, err, field)


def test_every_preset_and_the_default_model_pass_the_checks():
    from t2a_edge.core.config import PRESETS, ModelConfig, preset
    from t2a_edge.core.model_files import read_model_meta
    from t2a_edge.core.paths import default_model_dir

    for name in PRESETS:
        assert ModelConfig.from_dict(preset(name).to_dict()) == preset(name)
    if (default_model_dir() / "model.json").is_file():
        read_model_meta(default_model_dir())


def test_a_bundle_manifest_config_is_checked_too(tmp_path):
    bundle = fake_bundle(tmp_path / "bundle")
    edit_manifest(bundle, lambda m: m.update(config={"backbone": {"width": "wide"}}))
    with pytest.raises(T2AError, match="backbone.width"):
        open_bundle(bundle)


# -- writers: one line, and the checks before the writes ----------------------------------------------

@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_an_output_path_that_cannot_be_written_is_one_line_before_generating(student, tmp_path, monkeypatch, cli):
    from t2a_edge.runtimes import api

    def no_load(*args, **kwargs):
        raise AssertionError("loaded a model for an output that cannot be written")

    monkeypatch.setattr(api.TextToAudio, "load", classmethod(no_load))
    code, _, err = cli(["generate", "dog", "--model", str(student), "--backend", "torch", "-o", "/proc/x.wav"])
    one_error_line(code, err, "/proc")
    code, _, err = cli(["generate", "dog", "--model", str(student), "--backend", "torch",
                        "-o", str(tmp_path / "x.wav"), "--spectrogram", "/proc/s.png"])
    one_error_line(code, err, "/proc")
    assert not (tmp_path / "x.wav").exists()


def test_a_writer_failing_after_the_checks_is_one_line(tmp_path, monkeypatch):
    """An OS error the checks could not foresee (the folder vanishes, the write fails) names the file
    the user asked for in one line, not the temporary file beside it."""
    import errno
    import os
    import tempfile

    from t2a_edge.core.audio import atomic_write_bytes

    def fail(*args, **kwargs):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(tmp_path / ".x.wav.123.part"))

    with pytest.raises(T2AError, match="cannot write .*x.wav: no such file") as caught:
        atomic_write_bytes(tmp_path / "x.wav", fail)
    assert "\n" not in str(caught.value) and ".part" not in str(caught.value)
    assert not list(tmp_path.iterdir())
    monkeypatch.setattr(tempfile, "mkstemp", fail)
    with pytest.raises(T2AError, match="cannot write .*x.wav"):
        atomic_write_bytes(tmp_path / "x.wav", lambda tmp: None)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_any_command_writing_where_it_cannot_is_one_line(student, cli):
    """Writers with no check of their own (here convert --out's temporary folder) still end in one
    line naming the path, through the CLI's last resort for an OS error that names a file."""
    code, _, err = cli(["convert", "--model", str(student), "--backend", "onnx", "--out", "/proc/t2a-bundle"])
    one_error_line(code, err, "/proc")


def test_only_os_errors_naming_a_file_become_one_line():
    import errno

    from t2a_edge.apps.cli import os_error_line

    assert os_error_line(FileNotFoundError(errno.ENOENT, "No such file or directory", "/proc/x")) == \
        "no such file or directory: /proc/x"
    assert os_error_line(OSError(errno.ENOSPC, "No space left on device", "/x")).startswith("no space left on device: /x")
    assert os_error_line(OSError("no errno, no file")) is None


def test_a_bad_spectrogram_path_is_refused_before_any_audio_is_written(student, tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    for spectrogram, pattern in (("s.jpg", ".png"), (str(tmp_path / "no" / "s.png"), "does not exist")):
        code, _, err = cli(["generate", "dog", "--model", str(student), "--backend", "torch", "-o", "dog.wav",
                            "--spectrogram", spectrogram])
        one_error_line(code, err, pattern)
        assert not (tmp_path / "dog.wav").exists()
        assert not list(tmp_path.iterdir())


# -- a tampered cached bundle: marked, and its repair works as printed --------------------------------

@pytest.fixture(scope="module")
def cached_onnx(student, tmp_path_factory):
    """(cache folder, model folder, bundle) of one ONNX conversion shared by the tamper tests: each
    converts only once more, for its repair."""
    from t2a_edge.runtimes import select

    root = tmp_path_factory.mktemp("tamper")
    model = copy_model(student, root / "student")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("T2A_EDGE_CACHE", str(root / "cache"))
        torch.manual_seed(1)
        encoder = TextEncoder(layers=1, heads=2, hidden=64).eval()
        patch.setattr(TextEncoder, "pretrained", classmethod(lambda cls, folder=None: encoder))
        bundle, converted = select.ensure_bundle(model, "onnx", "fp32", progress=False)
    assert converted
    return root / "cache", model, bundle


def flip_a_byte(bundle: Path, component: str) -> None:
    path = bundle / json.loads((bundle / MANIFEST).read_text())["components"][component]["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def printed_repair(line: str) -> list[str]:
    """The command an error line advises, as the shell would split it."""
    args = shlex.split(line[line.index("t2a-edge convert"):])
    assert args[0] == "t2a-edge"
    return args[1:]


def test_a_tampered_cached_bundle_is_marked_and_its_printed_repair_works(cached_onnx, tmp_path, monkeypatch, cli):
    cache, model, bundle = cached_onnx
    monkeypatch.setenv("T2A_EDGE_CACHE", str(cache))
    [entry] = json.loads(cli(["cache", "list", "--json"])[1])["bundles"]
    assert entry["status"] == "current"
    flip_a_byte(bundle, "step")

    code, out, err = cli(["cache", "list", "--json"])
    [entry] = json.loads(out)["bundles"]
    assert entry["status"] != "current" and "damaged" in entry["status"] and entry["stale"], entry
    code, out, err = cli(["cache", "list"])
    assert "damaged" in out

    wav = tmp_path / "dog.wav"
    code, _, err = cli(["generate", "dog", "--model", str(model), "--backend", "onnx", "-o", str(wav)])
    repair = printed_repair(one_error_line(code, err, "corrupt", "t2a-edge convert"))
    assert "--out" not in repair
    code, _, err = cli(repair)
    assert code in (0, None), err
    code, out, err = cli(["generate", "dog", "--model", str(model), "--backend", "onnx", "-o", str(wav)])
    assert code in (0, None), err
    assert wav.is_file() and "from the cache" in out
    [entry] = json.loads(cli(["cache", "list", "--json"])[1])["bundles"]
    assert entry["status"] == "current"


def test_a_tampered_bundle_passed_by_path_gets_advice_that_works(cached_onnx, tmp_path, cli):
    """A bundle folder given by path (convert --out) is repaired in place by the printed command."""
    _, _, cached = cached_onnx
    bundle = tmp_path / "bundle"
    shutil.copytree(cached, bundle)
    flip_a_byte(bundle, "decoder")
    wav = tmp_path / "dog.wav"
    code, _, err = cli(["generate", "dog", "--model", str(bundle), "-o", str(wav)])
    repair = printed_repair(one_error_line(code, err, "corrupt", "t2a-edge convert"))
    assert repair[repair.index("--out") + 1] == str(bundle.resolve())
    code, _, err = cli(repair)
    assert code in (0, None), err
    code, _, err = cli(["generate", "dog", "--model", str(bundle), "-o", str(wav)])
    assert code in (0, None), err
    assert wav.is_file()


def test_the_repair_of_the_default_models_cached_bundle_names_it_default(tmp_path, monkeypatch):
    from t2a_edge.core.bundle import repair_advice
    from t2a_edge.core.paths import bundles_dir, default_model_dir

    monkeypatch.setenv("T2A_EDGE_CACHE", str(tmp_path / "cache"))
    manifest = {"backend": "openvino", "precision": "int8", "model": {"source": str(default_model_dir())}}
    cached = bundles_dir() / "0123456789abcdef" / "openvino-int8"
    assert repair_advice(cached, manifest).endswith(
        "t2a-edge convert --model default --backend openvino --precision int8 --force")
    elsewhere = tmp_path / "my bundle"
    assert repair_advice(elsewhere, manifest).endswith(f"--out '{elsewhere}' --force")


# -- an over-long prompt says what the model reads ------------------------------------------------------

def test_an_over_long_prompt_says_what_the_model_reads(student, tmp_path, cli):
    prompt = "dog barking in the rain " + "and more words " * 2000
    assert len(prompt) > 10_000
    wav = tmp_path / "dog.wav"
    code, out, err = cli(["generate", prompt, "--model", str(student), "--backend", "torch", "-o", str(wav)])
    assert code in (0, None), err
    assert wav.is_file()
    notes = [line for line in (out + err).splitlines() if "word pieces" in line]
    assert len(notes) == 1, out + err
    note = notes[0]
    assert len(note) < 400 and "the model reads the first 14" in note and "dog barking in the rain" in note
    assert "error" not in note.lower()

    # A prompt within the limit says nothing.
    code, out, err = cli(["generate", "dog barking", "--model", str(student), "--backend", "torch",
                          "-o", str(wav), "--force"])
    assert code in (0, None) and "word pieces" not in out + err


def test_the_api_warns_about_an_over_long_prompt(student):
    from t2a_edge.runtimes.api import TextToAudio

    tta = TextToAudio.load(student, backend="torch")
    assert tta.prompt_cut("dog barking") is None
    with pytest.warns(UserWarning, match="the model reads the first 14 word pieces"):
        tta.generate("dog barking " * 100, seconds=1.0)
