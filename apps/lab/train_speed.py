"""Benchmark: teacher training throughput with each speed-up switched on in turn, in one run.

    t2a-edge lab train-speed --data CORPUS [--init default] [--steps 12]
        [--batch 16] [--rounds 2] [--threads 2]

One model and one token bank serve every variant; rounds interleave the variants so a drifting
machine slows each alike. "before" is the loop as it ran until the speed-ups: fp32, the first
clip's length for the whole batch, every caption padded to the tokenizer's 32 positions, and the
diffusion head run at every position with the loss weighting out the rest. Each later row adds one
speed-up. Prints examples/s, real tokens/s (the clips' own scored or conditioning tokens, padding
excluded) and the padding share, with each row's speed as a multiple of the first.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

VARIANTS = ("before", "+bf16", "+caption cut", "+head on scored", "+length buckets")


def full_head_loss(loss, batch: dict) -> torch.Tensor:
    """The teacher's loss as it was computed before: the head at every position, one timestep per row."""
    from t2a_edge.core.heads import diffusion_loss
    from t2a_edge.train.stages import masked_inputs

    z = loss.backbone(*masked_inputs(batch, loss.backbone))
    mul = batch["t"].shape[0]
    x0 = batch["tokens"].repeat(mul, 1, 1)
    t = batch["t"][:, :, :1].reshape(-1, 1).expand(-1, x0.shape[1])
    noise = batch["noise"].flatten(0, 1)
    eps = loss.head(loss.diffusion.add_noise(x0, t, noise), t, z.repeat(mul, 1, 1))
    return diffusion_loss(eps, noise, batch["loss_mask"].repeat(mul, 1))


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="corpus folder or manifest")
    parser.add_argument("--init", default="default", help="model folder whose codec encodes the clips")
    parser.add_argument("--steps", type=int, default=12, help="timed steps per variant and round")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from t2a_edge.core.config import preset
    from t2a_edge.core.text import TextEncoder
    from t2a_edge.core.tokenizer import Tokenizer
    from t2a_edge.train.data import AudioBank, TokenBank, batch_generator, batch_rng
    from t2a_edge.train.loop import has_bf16
    from t2a_edge.train.stages import Settings, build, init_folder, make_batch

    settings = Settings(stage="teacher", batch=args.batch, init=args.init, category_captions=1.0)
    torch.manual_seed(0)
    model, loss, groups = build(settings, preset(settings.preset))
    optimizer = torch.optim.AdamW(groups, lr=1e-4)
    bank = TokenBank(AudioBank(args.data, "train", show_progress=False), model, TextEncoder.pretrained(),
                     Tokenizer(model.cfg.backbone.text_tokens), show_progress=False)
    print(f"model from {init_folder(settings)}; {len(bank.tokens)} clips; bf16 native here: "
          f"{has_bf16(torch.device('cpu'))}; batch {args.batch}, {args.steps} steps x {args.rounds} rounds")

    def run(variant: int, step0: int) -> tuple[float, int, int, int]:
        bf16, cut, scored_head, buckets = (variant >= 1, variant >= 2, variant >= 3, variant >= 4)
        bank.trim_text = cut
        run_settings = dataclasses.replace(settings, length_buckets=buckets)
        seconds, examples, real, padded = 0.0, 0, 0, 0
        for step in range(step0, step0 + args.steps + 1):
            batch = make_batch(run_settings, model.cfg, bank, batch_rng(0, step, 0), batch_generator(0, step, 0))
            started = time.perf_counter()
            with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                value = loss(batch)["loss"] if scored_head else full_head_loss(loss, batch)
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
            if step > step0:  # the first step of each variant warms its kernels
                seconds += time.perf_counter() - started
                examples += args.batch
                real += int(batch["valid"].sum())
                padded += batch["valid"].numel() - int(batch["valid"].sum())
        return seconds, examples, real, padded

    totals = {v: [0.0, 0, 0, 0] for v in range(len(VARIANTS))}
    for round_ in range(args.rounds):
        for variant in range(len(VARIANTS)):
            for i, value in enumerate(run(variant, 1000 * round_)):
                totals[variant][i] += value
    base = None
    print(f"{'variant':<18}{'examples/s':>12}{'real tokens/s':>15}{'padding':>9}{'x before':>10}")
    for variant, (seconds, examples, real, padded) in totals.items():
        rate, tokens = examples / seconds, real / seconds
        base = base or tokens
        print(f"{VARIANTS[variant]:<18}{rate:>12.2f}{tokens:>15.0f}{padded / (real + padded):>9.1%}{tokens / base:>10.2f}")


if __name__ == "__main__":
    main()
