"""Runtime bundles: manifest.json and its checks, readable without torch.

A bundle is a folder converted for one backend and precision:

    manifest.json           format, model config, rates, components, hashes, parity figures
    text_encoder.<ext>      ids, mask -> text states
    step.<ext>              one generation iteration (backbone + energy head, CFG inside)
    decoder.<ext>           tokens -> waveform

A component may be several files (OpenVINO's .xml + .bin, a CoreML .mlpackage folder); the
manifest lists every one with its sha256 and loading refuses a bundle whose files differ.
"""

from __future__ import annotations

from pathlib import Path

from t2a_edge.core.config import ModelConfig
from t2a_edge.core.errors import T2AError
from t2a_edge.core.model_files import read_versioned_json, sha256_file

MANIFEST = "manifest.json"
# Format 2: the decoder outputs STFT magnitudes (phase recovery left the graph for core.phase).
# Format 3: the step takes `guidance` weights of one or two backbone rows instead of a scalar cfg.
BUNDLE_FORMAT = 3
# Bumped whenever conversion changes what a bundle holds: cached bundles of an older converter are
# converted again on first use (a bundle folder passed by path still loads).
CONVERTER_VERSION = 16
EDGE_BACKENDS = ("onnx", "openvino", "coreml", "executorch")
PRECISIONS = ("fp32", "fp16", "int8")
COMPONENT_NAMES = ("text_encoder", "step", "decoder")


def is_bundle(folder: str | Path) -> bool:
    return (Path(folder) / MANIFEST).is_file()


def read_manifest(folder: str | Path) -> dict:
    """manifest.json of a bundle folder, checked for format and required keys."""
    path = Path(folder) / MANIFEST
    manifest = read_versioned_json(folder, MANIFEST, "bundle", BUNDLE_FORMAT, ": convert the model again")
    for key in ("backend", "precision", "config", "components"):
        if key not in manifest:
            raise T2AError(f"{path} lacks '{key}': convert the model again")
    missing = [c for c in COMPONENT_NAMES if c not in manifest["components"]]
    if missing:
        raise T2AError(f"{path} lists no {', '.join(missing)} component: convert the model again")
    return manifest


def component_files(manifest: dict, name: str) -> dict[str, str]:
    """{relative path: sha256} of one component."""
    return manifest["components"][name]["files"]


def verify_bundle(folder: str | Path, manifest: dict | None = None) -> dict:
    """Check every file's sha256 against the manifest; raise naming the first file that differs."""
    folder = Path(folder)
    manifest = manifest or read_manifest(folder)
    for name in COMPONENT_NAMES:
        for rel, expected in component_files(manifest, name).items():
            path = folder / rel
            if not path.is_file():
                raise T2AError(f"bundle file {path} is missing: convert again (t2a-edge convert --force)")
            if sha256_file(path) != expected:
                raise T2AError(f"bundle file {path} is corrupt (sha256 differs from {MANIFEST}): "
                               "convert again (t2a-edge convert --force)")
    return manifest


def load_manifest(folder: str | Path) -> tuple[dict, ModelConfig]:
    """Read and verify a bundle; returns the manifest and the model config it was made from."""
    manifest = verify_bundle(folder)
    return manifest, ModelConfig.from_dict(manifest["config"])


def component_path(folder: str | Path, manifest: dict, name: str) -> Path:
    """The path a runtime opens for a component (the .xml of an IR, the .mlpackage folder, ...)."""
    return Path(folder) / manifest["components"][name]["file"]


def hash_tree(root: Path, rel: str) -> dict[str, str]:
    """{relative path: sha256} of a file, or of every file under a folder (a .mlpackage)."""
    path = root / rel
    if path.is_file():
        return {rel: sha256_file(path)}
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(path.rglob("*")) if p.is_file()}
