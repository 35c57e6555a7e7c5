"""The shipped default model itself: converted to ONNX Runtime and OpenVINO at fp32, the same seed gives
the torch clip (README: "same seed, same audio" within 30 dB), and its model card says what it is made
of and how it was trained."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from t2a_edge.core.paths import default_model_dir

README_E2E_SNR_DB = 30.0


@pytest.mark.slow
def test_the_default_model_converts_and_gives_the_torch_clip_on_onnx_and_openvino(tmp_path):
    """One prompt, 1.5 s, the model's own defaults (K = 1, cfg 1, temperature 0.7, spread, smoothing),
    through the same TextToAudio API on every backend. Conversion runs its own per-component checks
    (1e-4 against torch, with the real MiniLM text encoder); the clip comparison here is the README's."""
    import torch

    from t2a_edge import TextToAudio
    from t2a_edge.convert import quality
    from t2a_edge.convert.bundle import convert_bundles
    from t2a_edge.core.model import load_model
    from t2a_edge.core.model_files import read_model_meta

    folder = default_model_dir()
    meta = read_model_meta(folder)
    with torch.no_grad():
        manifests = convert_bundles(load_model(folder), ["onnx", "openvino"], ["fp32"],
                                    lambda b, p: tmp_path / f"{b}-{p}", check_end_to_end=False,
                                    model_meta={"sha": "shipped", "source": str(folder),
                                                "defaults": meta["defaults"]})
    prompt, settings = "dog barking", {"seconds": 1.5, "seed": 7}
    expected = TextToAudio.load(folder, backend="torch").generate(prompt, **settings).samples
    assert expected.shape == (24000,) and abs(expected).max() > 1e-3
    for backend in ("onnx", "openvino"):
        manifest = manifests[backend, "fp32"]
        assert all(c["precision"] == "fp32" for c in manifest["components"].values())
        assert all(p["relative_error"] <= 1e-4 for p in manifest["parity"]["components"].values()), manifest
        tta = TextToAudio.load(tmp_path / f"{backend}-fp32")
        assert tta.backend.name == backend and tta.defaults == TextToAudio.load(folder, backend="torch").defaults
        got = tta.generate(prompt, **settings).samples
        snr = quality.snr_db(got, expected)
        assert snr >= README_E2E_SNR_DB, (backend, snr)


def card_section(card: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", card, re.S | re.M)
    assert match, f"the model card has no '## {title}' section"
    return match.group(1)


def table_rows(section: str) -> list[list[str]]:
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]  # past header and rule


def test_model_card_lists_its_data_licenses_and_the_commands_that_made_it():
    from t2a_edge.apps.cli import cli

    folder = default_model_dir()
    card = (folder / "MODEL_CARD.md").read_text()
    meta = json.loads((folder / "model.json").read_text())

    # Data: one row per Debian package with its version, a clip count and its licenses; the counts add
    # up to the corpus size the card states.
    data = card_section(card, "Data and licenses")
    rows = table_rows(data)
    assert len(rows) >= 5, rows
    for package, clips, licenses in rows:
        assert re.fullmatch(r"[a-z0-9][a-z0-9.+-]+ \([^)]+\)", package), package  # name (version)
        assert re.fullmatch(r"\d[\d,]*", clips) and int(clips.replace(",", "")) > 0, clips
        assert re.search(r"CC0|CC-BY|GPL|public domain|free-art", licenses), licenses
    total = int(re.search(r"([\d,]+) clips", data).group(1).replace(",", ""))
    assert sum(int(clips.replace(",", "")) for _, clips, _ in rows) == total
    assert "t2a-edge data licenses" in data  # where each clip's authors are listed

    # Training: one command per stage, each a command this CLI accepts as written, and the ship
    # command's generation settings are the defaults model.json records.
    commands = {}
    for stage, command, *_ in table_rows(card_section(card, "Training")):
        commands[stage] = shlex.split(command.strip("`").replace("$C", "corpus"))
    assert {"codec", "teacher", "student", "ship"} <= set(commands), commands
    for stage in ("codec", "teacher", "student"):
        assert commands[stage][:3] == ["t2a-edge", "train", stage], commands[stage]
    for stage, argv in commands.items():
        verb = cli.get_command(None, argv[1])
        args = argv[2:]
        while hasattr(verb, "get_command") and args and not args[0].startswith("-"):
            verb, args = verb.get_command(None, args[0]), args[1:]  # a group: train codec, ...
        verb.make_context(" ".join(argv[:2]), list(args))  # raises on an unknown option or a bad value
    ship = commands["ship"]
    assert ship[:3] == ["t2a-edge", "train", "export"] and "--half" in ship
    for name, value in meta["defaults"].items():
        flag = "--" + name.replace("_", "-")
        assert flag in ship and float(ship[ship.index(flag) + 1]) == float(value), (name, ship)
    assert re.search(r"About [\d.]+ CPU-hours", card)
