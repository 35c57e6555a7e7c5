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
from t2a_edge.core.model_files import inside, read_versioned_json, sha256_file

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
    """manifest.json of a bundle folder, checked for format, required keys and a sound model config."""
    path = Path(folder) / MANIFEST
    manifest = read_versioned_json(folder, MANIFEST, "bundle", BUNDLE_FORMAT, ": convert the model again")
    for key in ("backend", "precision", "config", "components"):
        if key not in manifest:
            raise T2AError(f"{path} lacks '{key}': convert the model again")
    if not isinstance(manifest["components"], dict):
        raise T2AError(f"{path}: 'components' is not a table: convert the model again")
    missing = [c for c in COMPONENT_NAMES if c not in manifest["components"]]
    if missing:
        raise T2AError(f"{path} lists no {', '.join(missing)} component: convert the model again")
    for name in COMPONENT_NAMES:
        entry = manifest["components"][name]
        if (not isinstance(entry, dict) or not isinstance(entry.get("file"), str) or not isinstance(entry.get("files"), dict)
                or not entry["files"] or not all(isinstance(v, str) for v in entry["files"].values())):
            raise T2AError(f"{path}: component {name} lacks its 'file' or the sha256 of its 'files': "
                           "convert the model again")
    ModelConfig.from_dict(manifest["config"], str(path))
    return manifest


def component_files(manifest: dict, name: str) -> dict[str, str]:
    """{relative path: sha256} of one component."""
    return manifest["components"][name]["files"]


def repair_advice(folder: str | Path, manifest: dict) -> str:
    """The command that converts this bundle again, ready to paste, or what to do without one."""
    import shlex

    from t2a_edge.core.paths import bundles_dir, default_model_dir

    source = (manifest.get("model") or {}).get("source")
    backend, precision = manifest.get("backend"), manifest.get("precision")
    if not source or backend not in EDGE_BACKENDS or precision not in PRECISIONS:
        return "convert the model it was made from again (t2a-edge convert --model MODEL --backend ... --force)"
    folder = Path(folder).resolve()
    model = "default" if Path(source).resolve() == default_model_dir().resolve() else source
    command = ["t2a-edge", "convert", "--model", model, "--backend", backend, "--precision", precision]
    if folder.parent.parent != bundles_dir().resolve():  # a bundle of its own folder, not the cache's
        command += ["--out", str(folder)]
    return f"convert it again: {shlex.join(command + ['--force'])}"


def _checked_files(folder: Path, manifest: dict, name: str) -> dict[Path, str]:
    """{path: sha256} of a component's hashed files; refuses any that lies outside the bundle, and a
    `file` (what the runtime opens) that is not among them or holds files they do not list."""
    where = f"{folder / MANIFEST} (component {name})"
    listed = {inside(folder, rel, where): sha for rel, sha in component_files(manifest, name).items()}
    opened = inside(folder, manifest["components"][name]["file"], where)
    if opened not in listed:
        held = {p for p in listed if p.is_relative_to(opened) and p != opened}
        on_disk = {p for p in opened.rglob("*") if p.is_file()} if opened.is_dir() else set()
        if not held or not on_disk <= held:
            raise T2AError(f"{where} opens {opened.relative_to(folder)}, which its hashed files do not cover: "
                           f"refusing the bundle; {repair_advice(folder, manifest)}")
    if opened.suffix == ".xml" and opened.with_suffix(".bin").exists() and opened.with_suffix(".bin") not in listed:
        raise T2AError(f"{where}: the weights {opened.with_suffix('.bin').name} its IR reads are not among its hashed "
                       f"files: refusing the bundle; {repair_advice(folder, manifest)}")
    return listed


def verify_bundle(folder: str | Path, manifest: dict | None = None) -> dict:
    """Check every file's sha256 against the manifest; raise naming the first file that differs.
    Only files inside the bundle are accepted, and each component must open a file its hashes cover."""
    folder = Path(folder)
    manifest = manifest or read_manifest(folder)
    for name in COMPONENT_NAMES:
        for path, expected in _checked_files(folder, manifest, name).items():
            if not path.is_file():
                raise T2AError(f"bundle file {path} is missing: {repair_advice(folder, manifest)}")
            if sha256_file(path) != expected:
                raise T2AError(f"bundle file {path} is corrupt (sha256 differs from {MANIFEST}): "
                               f"{repair_advice(folder, manifest)}")
    return manifest


def load_manifest(folder: str | Path) -> tuple[dict, ModelConfig]:
    """Read and verify a bundle; returns the manifest and the model config it was made from."""
    manifest = verify_bundle(folder)
    return manifest, ModelConfig.from_dict(manifest["config"], str(Path(folder) / MANIFEST))


def component_path(folder: str | Path, manifest: dict, name: str) -> Path:
    """The path a runtime opens for a component (the .xml of an IR, the .mlpackage folder, ...):
    inside the bundle and covered by the component's hashed files (verify_bundle checks both)."""
    folder = Path(folder)
    _checked_files(folder, manifest, name)
    return folder / manifest["components"][name]["file"]


def hash_tree(root: Path, rel: str) -> dict[str, str]:
    """{relative path: sha256} of a file, or of every file under a folder (a .mlpackage)."""
    path = root / rel
    if path.is_file():
        return {rel: sha256_file(path)}
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(path.rglob("*")) if p.is_file()}
