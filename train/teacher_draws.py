"""A trained teacher's guided draws for every training caption: targets for its student."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from tqdm import tqdm

from t2a_edge.core.errors import T2AError

FILE = "teacher_draws.safetensors"
# The teacher's measured one-step setting (README, v28 and v31), a quarter of S = 100's cost.
DIFFUSION_STEPS = 25
BATCH = 16  # captions per generation call


def generate_draws(teacher, text: torch.Tensor, text_mask: torch.Tensor, n_tokens: int, draws: int, cfg: float,
                   seed: int, show_progress: bool = True, steps: int = 1) -> torch.Tensor:
    """(captions, draws, n_tokens, token_dim) float16: drawn in `steps` MAR iterations, guided on ε.

    The student's guidance mixes backbone states before its one-step head, which does not sharpen
    what it draws the way the teacher's guidance on ε does; these draws carry the teacher's. With
    steps = 1 every token is drawn at once; more steps hold a clip together (README, v35).
    """
    from t2a_edge.runtimes.sampler import generate_tokens
    from t2a_edge.runtimes.torch_backend import TorchBackend

    backend = TorchBackend(teacher)
    rows = [(caption, draw) for draw in range(draws) for caption in range(len(text))]
    out = torch.empty(len(text), draws, n_tokens, teacher.cfg.token_dim, dtype=torch.float16)
    for start in tqdm(range(0, len(rows), BATCH), desc="teacher draws", disable=not show_progress, leave=False):
        chunk = rows[start:start + BATCH]
        index = [caption for caption, _ in chunk]
        tokens = generate_tokens(backend, text[index].float().numpy(), text_mask[index].float().numpy(), n_tokens,
                                 steps, cfg, 1.0, seed + start, DIFFUSION_STEPS)
        for (caption, draw), row in zip(chunk, tokens):
            out[caption, draw] = torch.from_numpy(row).half()
    return out


def save_draws(folder: Path, draws: torch.Tensor, settings: dict) -> None:
    """Atomically write the draws with their sha256 and the settings that made them."""
    from safetensors.torch import save

    from t2a_edge.core.audio import atomic_write_bytes

    payload = save({"draws": draws.contiguous()})
    meta = {"sha256": hashlib.sha256(payload).hexdigest(), **settings}
    atomic_write_bytes(folder / FILE, lambda tmp: Path(tmp).write_bytes(payload))
    atomic_write_bytes(folder / (FILE + ".json"), lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=1)))


def load_draws(folder: Path, settings: dict) -> torch.Tensor | None:
    """The run's stored draws if they match `settings` and their sha256; None if there are none."""
    from safetensors.torch import load

    path, meta_path = folder / FILE, folder / (FILE + ".json")
    if not path.is_file() or not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    payload = path.read_bytes()
    if hashlib.sha256(payload).hexdigest() != meta.get("sha256"):
        raise T2AError(f"{path} does not match its sha256: delete it to draw again")
    if {k: meta.get(k) for k in settings} != settings:
        raise T2AError(f"{path} was drawn with other settings ({meta_path}): delete it to draw again")
    return load(payload)["draws"]


def attach_draws(bank, teacher_folder: Path, folder: Path, draws: int, cfg: float, seed: int,
                 show_progress: bool, steps: int = 1) -> None:
    """Give `bank` the teacher's draws for each of its captions, drawn once per run and kept in `folder`."""
    teacher_files = hashlib.sha256((Path(teacher_folder) / "model.json").read_bytes()).hexdigest()
    settings = {"teacher": teacher_files, "draws": draws, "cfg": cfg, "steps": steps, "diffusion_steps": DIFFUSION_STEPS,
                "seed": seed, "captions": len(bank.text), "tokens": bank.max_tokens}
    stored = load_draws(folder, settings)
    if stored is None:
        from t2a_edge.core.model import load_model

        teacher = load_model(teacher_folder)
        stored = generate_draws(teacher, bank.text, bank.text_mask, bank.max_tokens, draws, cfg, seed, show_progress,
                                steps)
        folder.mkdir(parents=True, exist_ok=True)
        save_draws(folder, stored, settings)
    bank.draws = stored
