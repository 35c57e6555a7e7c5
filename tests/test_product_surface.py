"""The product's commands are the product's verbs plus the recipe (`train`, `data`) and one `lab` group;
no module outside apps/lab imports the lab."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ["generate", "convert", "bench", "eval", "info", "cache", "native"]
LAB_PROBES = {"codec", "coherence", "tokens", "phase", "heldout", "real", "phase-speed", "roofline", "loudness",
              "step-rows", "train-speed"}


def help_commands(*args) -> list[str]:
    """The command names listed under 'Commands:' in `t2a-edge ARGS --help`."""
    done = subprocess.run([sys.executable, "-m", "t2a_edge.apps.cli", *args, "--help"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split("Commands:\n", 1)[1].splitlines()
    return [line.split()[0] for line in listed if line.startswith("  ") and not line.startswith("   ")]


def test_the_top_level_commands_are_the_product_verbs_plus_lab_train_and_data():
    assert help_commands() == [*PRODUCT, "train", "data", "lab"]


def test_eval_keeps_compare_and_the_probes_live_under_lab():
    assert help_commands("eval") == ["compare"]
    assert set(help_commands("lab")) == LAB_PROBES
    assert help_commands("train") == ["codec", "teacher", "student", "export"]


def test_no_option_help_cites_experiment_history():
    """Help says what an option does; the history (vN, README, EXPERIMENTS) lives in docs/."""
    import re

    import click

    from t2a_edge.apps.cli import cli

    def walk(command, ctx):
        yield command
        if isinstance(command, click.Group):
            sub = click.Context(command, info_name=command.name, parent=ctx)
            for name in command.list_commands(sub):
                yield from walk(command.get_command(sub, name), sub)

    texts = []
    for command in walk(cli, None):
        texts.append(command.help or "")
        texts += [getattr(p, "help", None) or "" for p in command.params]
    history = re.compile(r"\bv\d+[a-z]?\b|README|EXPERIMENTS|\bcommit\b")
    assert [t for t in texts if history.search(t)] == []


def _lab_references(path: Path) -> list[str]:
    """Imports of t2a_edge.apps.lab, and strings naming it, in one source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("t2a_edge.apps.lab")]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("t2a_edge.apps.lab") or (
                    node.module == "t2a_edge.apps" and any(a.name == "lab" for a in node.names)):
                found.append(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "t2a_edge.apps.lab" in node.value:
            found.append(node.value)
    return found


def test_no_module_outside_the_lab_imports_it():
    """The CLI's verb table is the lab's one door: it names the group's module, loaded only by `t2a-edge lab`."""
    lab = ROOT / "apps" / "lab"
    offenders = {}
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in ("tests", ".venv", "build") or path.is_relative_to(lab) or any(
                part.startswith(".") for part in relative.parts):
            continue
        refs = _lab_references(path)
        if relative == Path("apps/cli.py"):
            refs = [r for r in refs if r != "t2a_edge.apps.lab.cli:lab"]
        if refs:
            offenders[str(relative)] = refs
    assert offenders == {}


def test_product_commands_load_without_the_lab():
    code = ("import sys\nfrom t2a_edge.apps.cli import cli\nimport click\n"
            "for verb in %r:\n"
            "    cli.get_command(click.Context(cli), verb)\n"
            "assert not [m for m in sys.modules if m.startswith('t2a_edge.apps.lab')], 'the product loaded the lab'\n"
            % (PRODUCT + ["train", "data"]))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_the_readme_is_a_short_manual_that_links_its_history():
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    assert "python -m pytest -q" in text
    words = re.findall(r"[\w.-]+", text)
    assert [w for w in words if re.fullmatch(r"v\d+[a-z]?", w)] == []  # experiment numbers live in docs/
    assert [w for w in words if re.fullmatch(r"[0-9a-f]{7,40}", w) and re.search(r"[a-f]", w)
            and re.search(r"\d", w)] == []  # no commit hashes
    for page in ("docs/runtimes.md", "docs/training.md", "docs/results.md", "train/EXPERIMENTS.md"):
        assert f"]({page}" in text and (ROOT / page).is_file(), page
