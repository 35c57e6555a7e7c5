"""Training checkpoints: safetensors for tensors, JSON for the rest, each written as one atomic folder."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

from t2a_edge.core.errors import T2AError
from t2a_edge.core.model_files import sha256_file

KEEP = 2  # how many checkpoints to keep


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Split an optimizer state_dict into flat tensors (safetensors) and plain JSON."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, slots in state["state"].items():
        for name, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{name}"] = value.detach().clone().contiguous()
            else:
                scalars[f"{index}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _optimizer_state(tensors: dict, meta: dict) -> dict:
    state: dict = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    for key, value in meta["scalars"].items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(run_dir: Path, step: int, module: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    extra: dict, average: dict[str, torch.Tensor] | None = None) -> Path:
    """Write checkpoints/step-N/ via a temp folder and a rename, then prune old ones.

    `average`: the run's weight average (train.ema), kept beside the weights for an exact resume.
    """
    from t2a_edge.core.tensor_files import save_tensors

    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
    try:
        weights = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
        save_tensors(weights, tmp / "weights.safetensors")
        opt_tensors, opt_meta = _optimizer_tensors(optimizer)
        save_tensors(opt_tensors, tmp / "optimizer.safetensors")
        names = ["weights.safetensors", "optimizer.safetensors"]
        if average is not None:
            save_tensors(average, tmp / "average.safetensors")
            names.append("average.safetensors")
        state = {
            "step": step,
            "optimizer": opt_meta,
            "torch_rng": torch.get_rng_state().tolist(),
            "files": {name: sha256_file(tmp / name) for name in names},
            **extra,
        }
        (tmp / "state.json").write_text(json.dumps(state))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in sorted(root.glob("step-*"))[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint folder, or None."""
    root = Path(run_dir) / "checkpoints"
    done = [p for p in sorted(root.glob("step-*")) if (p / "state.json").is_file()] if root.is_dir() else []
    return done[-1] if done else None


def load_checkpoint(path: Path, module: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    average=None) -> dict:
    """Restore weights, optimizer, RNG state and the weight average (if given) in place after checking
    hashes; returns state.json."""
    from safetensors.torch import load_file

    try:
        state = json.loads((path / "state.json").read_text())
    except (OSError, ValueError) as exc:
        raise T2AError(f"checkpoint {path} is unreadable: {exc}") from None
    for name, expected in state["files"].items():
        if not (path / name).is_file() or sha256_file(path / name) != expected:
            raise T2AError(f"checkpoint file {path / name} is missing or corrupt (sha256 mismatch)")
    try:
        module.load_state_dict(load_file(str(path / "weights.safetensors")))
    except RuntimeError as exc:
        raise T2AError(f"checkpoint {path} does not match this model: {str(exc).splitlines()[0]}") from None
    optimizer.load_state_dict(_optimizer_state(load_file(str(path / "optimizer.safetensors")), state["optimizer"]))
    if average is not None:
        if "average.safetensors" not in state["files"]:
            raise T2AError(f"checkpoint {path} holds no weight average: it was not trained with --ema")
        try:
            average.load_state_dict(load_file(str(path / "average.safetensors")))
        except ValueError as exc:
            raise T2AError(f"checkpoint {path}: {exc}") from None
    torch.set_rng_state(torch.tensor(state["torch_rng"], dtype=torch.uint8))
    return state
