"""The training loop shared by the three stages; reads top to bottom like nanoGPT's train.py."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import signal
import time
from pathlib import Path

import torch
from tqdm import tqdm

from t2a_edge.core.config import preset
from t2a_edge.core.errors import T2AError
from t2a_edge.train import distributed
from t2a_edge.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from t2a_edge.train.data import AudioBank, TokenBank, batch_generator, batch_rng, dropout_seed
from t2a_edge.train.ema import WeightAverage
from t2a_edge.train.stages import Settings, build, export, make_batch, prepare


class StopFlag:
    """Turns SIGINT/SIGTERM into a request to checkpoint and stop after the current step."""

    def __init__(self):
        self.requested = False
        self._previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        self.requested = True

    def restore(self):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def has_bf16(device: torch.device) -> bool:
    """Whether the device computes bf16 natively: a CUDA GPU that supports it, or a CPU with AVX-512
    BF16 or AMX (elsewhere bf16 is emulated and slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no way to tell here, so the safe choice
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def autocast_precision(device: torch.device) -> str:
    return "bf16" if has_bf16(device) else "fp32"


def precision_reason(precision: str, device: torch.device) -> str:
    if precision == "fp32":
        return "no native bf16 here" if not has_bf16(device) else "as asked"
    return "bf16 autocast; parameters, optimizer and loss reductions stay fp32"


def learning_rate(step: int, settings: Settings) -> float:
    """Linear warm-up over 5% of the run (at most 500 steps), then cosine decay to 10%."""
    warmup = max(1, min(500, settings.steps // 20))
    if step < warmup:
        return settings.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, settings.steps - warmup)
    return settings.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def train(settings: Settings, data: str, out: str | Path, resume: bool = False, device: str = "cpu",
          show_progress: bool = True, until_step: int | None = None, time_limit: float | None = None,
          named: frozenset[str] = frozenset()) -> Path:
    """Train one stage; returns the run's model folder. Checkpoints every N steps and on SIGINT/SIGTERM.

    `until_step` and `time_limit` (seconds) end this invocation early with a checkpoint, without
    changing the run's schedule, so a long run can be done in sessions and resumed exactly. On
    resume the run's stored settings stand: the fields of `settings` listed in `named` (the ones a
    user typed) must equal them, except `steps`, which may lengthen the schedule.
    """
    out = Path(out)
    ctx = distributed.setup(device)
    checkpoint = latest_checkpoint(out)
    if checkpoint is not None and not resume:
        raise T2AError(f"{out} already holds a run: pass --resume to continue it, or choose another --out")
    if resume and checkpoint is None:
        raise T2AError(f"nothing to resume in {out}: no checkpoint found")
    if not resume and out.is_dir() and any(out.iterdir()) and not (out / "train.log").is_file():
        # A run writes checkpoints/ and model/ into --out: never among files that are not a run's.
        raise T2AError(f"{out} already holds files that are not a training run: choose a new or empty --out")
    if resume:
        stored = json.loads((checkpoint / "state.json").read_text())["settings"]
        _refuse_changes(settings, stored, named)
        steps = settings.steps if "steps" in named else stored["steps"]
        settings = Settings(**{**stored, "steps": steps})
    if settings.precision == "auto":  # decided once, stored with the run, so a resume computes alike
        settings = dataclasses.replace(settings, precision=autocast_precision(ctx.device))
    if ctx.is_main:
        print(f"precision: {settings.precision} ({precision_reason(settings.precision, ctx.device)})", flush=True)
    torch.manual_seed(settings.seed)  # identical initial weights on every rank
    model, loss_module, groups = build(settings, preset(settings.preset))
    cfg = model.cfg
    model.to(ctx.device)
    optimizer = torch.optim.AdamW(groups, lr=settings.lr, betas=(0.9, 0.95), weight_decay=0.01)
    average = WeightAverage(model, settings.ema) if settings.ema else None
    start = 0
    if resume:
        start = load_checkpoint(checkpoint, model, optimizer, average)["step"]
    network = distributed.wrap(loss_module, ctx)
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
        log = open(out / "train.log", "a", encoding="utf-8")
        params = sum(p.numel() for g in groups for p in g["params"])
        _log(log, {"event": "start", "stage": settings.stage, "step": start, "world": ctx.world,
                   "trainable_parameters": params, "settings": dataclasses.asdict(settings)})

    # Data: raw audio for the codec; latents and caption states from frozen parts for the others.
    audio = AudioBank(data, "train", show_progress and ctx.is_main)
    if settings.stage == "codec":
        bank = audio
    else:
        from t2a_edge.core.text import TextEncoder
        from t2a_edge.core.tokenizer import Tokenizer

        bank = TokenBank(audio, model, TextEncoder.pretrained(), Tokenizer(cfg.backbone.text_tokens),
                         show_progress and ctx.is_main)
    if not resume:
        prepare(settings, model, bank)

    stop = StopFlag()
    bar = tqdm(total=settings.steps, initial=start, desc=f"train {settings.stage}",
               disable=not (show_progress and ctx.is_main), dynamic_ncols=True)
    loss_module.train()
    step, started, sums = start, time.perf_counter(), {}
    try:
        while step < settings.steps:
            lr = learning_rate(step, settings)
            for group in optimizer.param_groups:
                group["lr"] = lr * group.get("lr_mult", 1.0)
            batch = make_batch(settings, cfg, bank, batch_rng(settings.seed, step, ctx.rank),
                               batch_generator(settings.seed, step, ctx.rank))
            batch = {k: v.to(ctx.device) for k, v in batch.items()}
            if settings.dropout:
                torch.manual_seed(dropout_seed(settings.seed, step, ctx.rank))
            with torch.autocast(ctx.device.type, torch.bfloat16, enabled=settings.precision == "bf16"):
                losses = network(batch)
            optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            grad_norm = torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], 1.0)
            optimizer.step()
            step += 1
            if average is not None:
                average.update(step)
            for name, value in losses.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach())
            sums["grad_norm"] = sums.get("grad_norm", 0.0) + float(grad_norm)
            bar.update(1)
            if step % settings.log_every == 0 or step == settings.steps:
                count = step % settings.log_every or settings.log_every
                means = {k: distributed.average(v / count, ctx) for k, v in sums.items()}
                sums = {}
                if ctx.is_main:
                    bar.set_postfix({k: f"{v:.4g}" for k, v in means.items() if k != "grad_norm"})
                    _log(log, {"event": "train", "step": step, "lr": lr, **means,
                               "seconds": round(time.perf_counter() - started, 1)})
            out_of_time = time_limit is not None and time.perf_counter() - started > time_limit
            stop_now = _any(stop.requested or out_of_time or step == until_step, ctx)
            if step % settings.checkpoint_every == 0 or step == settings.steps or stop_now:
                if ctx.is_main:
                    save_checkpoint(out, step, model, optimizer, {"settings": dataclasses.asdict(settings)},
                                    average.state_dict() if average is not None else None)
                    with average.applied() if average is not None else contextlib.nullcontext():
                        export(settings, model, bank if settings.stage == "codec" else audio, out, step)
                    _log(log, {"event": "checkpoint", "step": step})
                distributed.barrier(ctx)
            if stop_now:
                if ctx.is_main:
                    _log(log, {"event": "interrupted" if stop.requested else "paused", "step": step})
                    tqdm.write(f"stopped at step {step} of {settings.steps}; continue with --resume")
                break
        sums_by_rank = distributed.parameter_checksums(loss_module, ctx)
        if ctx.enabled and ctx.is_main:
            in_sync = max(sums_by_rank) - min(sums_by_rank) <= 1e-9 * max(1.0, abs(max(sums_by_rank)))
            _log(log, {"event": "ranks", "checksums": sums_by_rank, "in_sync": in_sync})
    finally:
        stop.restore()
        bar.close()
        if ctx.is_main:
            log.close()
        distributed.teardown(ctx)
    return out / "model"


def _refuse_changes(settings: Settings, stored: dict, named: frozenset[str]) -> None:
    """One error line naming every typed setting that differs from the resumed run's, since an exact
    resume cannot honour it and ignoring it silently would train something the user did not ask for."""
    def shown(value):
        return ("on" if value else "off") if isinstance(value, bool) else repr(value) if value == "" else value

    def same(name, given, kept):
        # Runs are named by folder: "runs/teacher" and "./runs/teacher" are one --init.
        if name == "init" and given and kept and "default" not in (given, kept):
            return Path(given).resolve() == Path(kept).resolve()
        return given == kept

    changed = [f"{'' if name == 'stage' else '--'}{name.replace('_', '-')} {shown(getattr(settings, name))} "
               f"(the run's: {shown(stored.get(name))})"
               for name in sorted(named - {"steps"}) if not same(name, getattr(settings, name), stored.get(name))]
    if "steps" in named and settings.steps < stored["steps"]:
        changed.append(f"--steps {settings.steps} (the run's: {stored['steps']}; --resume can only extend a run)")
    if changed:
        raise T2AError("--resume continues a run with its stored settings, and these differ: " + ", ".join(changed)
                       + "; drop them, or start a new run with another --out")


def _any(flag: bool, ctx) -> bool:
    """True on every rank if any rank was asked to stop (so all ranks checkpoint together)."""
    if not ctx.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    torch.distributed.all_reduce(t)
    return bool(t.item() > 0)


def _log(handle, record: dict) -> None:
    handle.write(json.dumps(record) + "\n")
    handle.flush()
