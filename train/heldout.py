"""A teacher's or student's own loss on held-out clips: with each clip's caption, another clip's, and none.

The training log's loss is on clips the model has seen; this one is not, so it shows over-fitting
(a lower training loss that generalises worse) and how much the caption actually helps.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from t2a_edge.core.errors import T2AError
from t2a_edge.core.model import load_model
from t2a_edge.core.text import TextEncoder
from t2a_edge.core.tokenizer import Tokenizer
from t2a_edge.train.data import AudioBank, TokenBank
from t2a_edge.train.stages import Settings, StudentLoss, TeacherLoss, make_batch


@torch.no_grad()
def heldout_loss(folder, manifest: str, split: str = "test", batches: int = 40, batch: int = 16,
                 full_mask_share: float = 1.0, seed: int = 7, hidden_share: float | None = None) -> dict:
    """Mean stage loss over fixed held-out batches (padding not scored), under three captions.

    `hidden_share` hides that share of every example's tokens at random positions instead of the
    training masks: the loss at 0.1 against 1.0 shows how much the model draws on revealed tokens.
    """
    if batches < 1 or batch < 2:
        raise T2AError("held-out loss needs at least 1 batch of at least 2 clips")
    model = load_model(folder)
    kind = model.kind
    if kind == "codec":
        raise T2AError(f"{folder} is a codec: the held-out loss is for a teacher or a student")
    bank = TokenBank(AudioBank(manifest, split, show_progress=False), model, TextEncoder.pretrained(),
                     Tokenizer(model.cfg.backbone.text_tokens), show_progress=False)
    settings = Settings(stage=kind, batch=batch, full_mask_share=full_mask_share, loss_on_padding=False)
    # The student's distillation term is left out: only the head's own score is compared.
    loss = TeacherLoss(model, settings) if kind == "teacher" else StudentLoss(model, model.backbone, settings)
    key = "diffusion" if kind == "teacher" else "energy"
    sums = {"own": 0.0, "other": 0.0, "null": 0.0}
    another = torch.roll(torch.arange(batch), 1)  # each row takes the caption of the row before it
    for step in range(batches):
        drawn = make_batch(settings, model.cfg, bank, np.random.default_rng([seed, step]),
                           torch.Generator().manual_seed(seed * 1_000_003 + step))
        drawn["drop"] = torch.zeros(batch, dtype=torch.bool)
        if hidden_share is not None:
            n = drawn["tokens"].shape[1]
            ranks = torch.argsort(torch.rand(batch, n, generator=torch.Generator().manual_seed(seed + step)), dim=1)
            drawn["mask"] = (ranks < max(1, math.ceil(hidden_share * n))).float()
            drawn["loss_mask"] = drawn["mask"] * drawn["valid"]
        sums["own"] += loss(drawn)[key].item()
        sums["other"] += loss({**drawn, "text": drawn["text"][another],
                               "text_mask": drawn["text_mask"][another]})[key].item()
        sums["null"] += loss({**drawn, "drop": torch.ones(batch, dtype=torch.bool)})[key].item()
    means = {name: total / batches for name, total in sums.items()}
    return {"kind": kind, "loss": key, "split": split, "clips": len(bank.tokens), "batches": batches,
            "batch": batch, "full_mask_share": full_mask_share, "hidden_share": hidden_share, **means,
            "caption_gain": (means["null"] - means["own"]) / means["null"]}
