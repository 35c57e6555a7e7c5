"""A model folder's metadata (model.json) and file hashes, readable without torch."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath

from t2a_edge.core.errors import T2AError

MODEL_FILE = "model.json"
FORMAT_VERSION = 1


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_versioned_json(folder: str | Path, name: str, what: str, version: int, stale_hint: str = "") -> dict:
    """`folder/name` parsed, with one clear error line if it is missing, unreadable or of another format."""
    path = Path(folder) / name
    if not path.is_file():
        raise T2AError(f"{folder} is not a t2a-edge {what} (no {name})")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise T2AError(f"{path} is unreadable: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != version:
        found = data.get("format") if isinstance(data, dict) else None
        raise T2AError(f"{path} has format {found}, this t2a-edge reads {version}{stale_hint}")
    return data


def inside(folder: str | Path, rel, where: str) -> Path:
    """`folder/rel` for a file that a hashed list (`where`) names, refused in one line when it is not
    a plain relative path inside `folder`: absolute, with '..', or a link that leads out of it."""
    folder = Path(folder)
    if not isinstance(rel, str) or not rel.strip():
        raise T2AError(f"{where} names a file {json.dumps(rel)[:60]}, not a relative path")
    pure = PurePosixPath(rel.replace("\\", "/"))
    if pure.is_absolute() or Path(rel).is_absolute() or Path(rel).drive or ".." in pure.parts:
        raise T2AError(f"{where} names {rel}, outside {folder}: refusing to load it")
    path = folder / rel
    if not path.resolve().is_relative_to(folder.resolve()):
        raise T2AError(f"{where} names {rel}, which links outside {folder} (to {path.resolve()}): "
                       "refusing to load it")
    return path


def read_model_meta(folder: str | Path) -> dict:
    """model.json of a model folder, with a clear error for anything else: its config is checked
    (types, ranges, sizes; core.config.check_config) and its weight files must lie inside the folder,
    before anything reads or builds them."""
    from t2a_edge.core.config import ModelConfig

    meta = read_versioned_json(folder, MODEL_FILE, "model folder", FORMAT_VERSION)
    where = str(Path(folder) / MODEL_FILE)
    if "config" in meta:
        ModelConfig.from_dict(meta["config"], where)
    files = meta.get("files", {})
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise T2AError(f"{where}: 'files' must map each weight file to its sha256")
    for name in files:
        inside(folder, name, where)
    return meta


def verify_model_files(folder: str | Path, meta: dict) -> None:
    """Check every weight file listed in model.json against its sha256; name the first bad one."""
    where = str(Path(folder) / MODEL_FILE)
    for name, expected in meta.get("files", {}).items():
        path = inside(folder, name, where)
        if not path.is_file():
            raise T2AError(f"model file {path} is missing")
        if sha256_file(path) != expected:
            raise T2AError(f"model file {path} is corrupt (sha256 mismatch)")


def model_sha(folder: str | Path) -> str:
    """Identity of a model folder: sha256 of its model.json (which holds every weight file's hash)."""
    return hashlib.sha256((Path(folder) / MODEL_FILE).read_bytes()).hexdigest()[:16]


def resolve_model_dir(model: str | Path) -> Path:
    """'default', a model folder, or a training run folder (its model/ sub-folder)."""
    from t2a_edge.core.paths import default_model_dir

    if str(model) == "default":
        folder = default_model_dir()
        if not (folder / MODEL_FILE).is_file():
            raise T2AError("no default model is installed in this build: train one with `t2a-edge train` "
                           "(see README) and pass --model RUN_DIR/model")
        return folder
    path = Path(model).expanduser()
    if not path.exists():
        raise T2AError(f"model path {path} does not exist")
    if (path / MODEL_FILE).is_file():
        return path
    if (path / "model" / MODEL_FILE).is_file():
        return path / "model"
    raise T2AError(f"{path} is not a t2a-edge model (no {MODEL_FILE} in it or in {path / 'model'})")
