"""`t2a-edge train codec|teacher|student|export`: one command per stage of the recipe, then its export."""

from __future__ import annotations

import functools

import click
from click.core import ParameterSource

from t2a_edge.core.config import PRESETS
from t2a_edge.core.masking import MASK_SCHEDULES


STAGES = ("codec", "teacher", "student")


class TrainGroup(click.Group):
    """`train STAGE [OPTIONS]`: each stage is the one stage command below with its STAGE given; `export`
    writes a trained model as a shareable folder."""

    def list_commands(self, ctx):
        return [*STAGES, "export"]

    def get_command(self, ctx, name):
        if name == "export":
            from t2a_edge.apps.export_cmd import export

            return export
        if name not in STAGES:
            return None
        command = click.Command(name, params=[p for p in stage_command.params if p.name != "stage"],
                                callback=functools.partial(stage_command.callback, name),
                                help=f"Train the {name} stage. Under torchrun, trains with DDP across the processes.",
                                short_help=f"Train the {name}.")
        return command


@click.group("train", cls=TrainGroup)
def train():
    """The recipe: train the codec, then the teacher, then the student; export the result."""


@click.command("stage")
@click.argument("stage", type=click.Choice(STAGES))
@click.option("--data", required=True, type=click.Path(), help="Corpus folder or its manifest.jsonl.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder (checkpoints, log, model/).")
@click.option("--init", default="",
              help="Previous stage's run: the teacher for student; for teacher a codec, or any model folder "
                   "holding one ('default': the shipped model's codec).")
@click.option("--preset", type=click.Choice(PRESETS), default="small", show_default=True, help="Model size.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its latest checkpoint.")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Total optimizer steps (with --resume: only to extend the run; without, its own schedule stands).")
@click.option("--batch", type=click.IntRange(min=1), default=None, help="Examples per step (per process).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Peak learning rate.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=None, help="Steps between checkpoints.")
@click.option("--log-every", type=click.IntRange(min=1), default=None, help="Steps between log lines.")
@click.option("--distill-weight", type=click.FloatRange(min=0), default=None,
              help="Student: lambda of the distillation MSE (0 = no distillation).")
@click.option("--head-lr-mult", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Student: learning-rate multiplier of the energy head.")
@click.option("--crop-seconds", type=click.FloatRange(min=0.1), default=None, help="Codec: crop length.")
@click.option("--kl-weight", type=click.FloatRange(min=0), default=None, help="Codec: weight of the KL term.")
@click.option("--loss-on-padding/--no-loss-on-padding", default=None,
              help="Teacher/student: score the silence that pads short clips [default: off].")
@click.option("--full-mask-share", type=click.FloatRange(0, 1), default=None,
              help="Teacher/student: share of examples trained with every token hidden, as in a one-step "
                   "generation [default: 0].")
@click.option("--mask-schedule", type=click.Choice(MASK_SCHEDULES), default=None,
              help="Teacher/student: hidden share per example: MAR's truncated normal on [0.7, 1], or "
                   "cos(pi/2 u) as the sampler's schedule visits it [default: cosine].")
@click.option("--category-captions", type=click.FloatRange(0, 1), default=None,
              help="Teacher/student: share of examples given a caption of any clip of their category [default: 0].")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Teacher/student: dropout on the backbone's attention and MLP outputs while training [default: 0].")
@click.option("--rope-dims", type=click.IntRange(min=0), default=None,
              help="Teacher: channels per attention head turned by rotary positions over the latent tokens "
                   "[default: the preset's, 32 for small].")
@click.option("--head-width", type=click.IntRange(min=8), default=None,
              help="Teacher: width of the per-token heads; the student's energy head takes it too [default: the "
                   "preset's, 384 for small].")
@click.option("--downsample", type=click.IntRange(1, 32), default=None,
              help="Codec: 10 ms spectral frames per latent frame [default: 2].")
@click.option("--latent-dim", type=click.IntRange(1, 1024), default=None,
              help="Codec: latent channels (PCA components) per latent frame [default: the preset's, 64 for small].")
@click.option("--patch", type=click.IntRange(1, 32), default=None,
              help="Teacher: latent frames per token (20 ms each with the shipped codec) [default: 2].")
@click.option("--length-buckets/--no-length-buckets", default=None,
              help="Teacher/student: batch clips of about one length, so little of a batch is padding [default: on].")
@click.option("--precision", type=click.Choice(["auto", "bf16", "fp32"]), default=None,
              help="Forward-pass arithmetic: bf16 autocast or fp32; auto picks bf16 where the machine has it "
                   "natively and prints its choice [default: auto].")
@click.option("--ema", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Export an exponential moving average of the weights with this decay (e.g. 0.999) instead of "
                   "the last step's [default: 0, off].")
@click.option("--until-step", type=click.IntRange(min=1), default=None,
              help="Stop (with a checkpoint) at this step; --resume continues the same schedule.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop (with a checkpoint) after this many minutes.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def stage_command(stage, data, out, init, preset, resume, steps, batch, lr, seed, checkpoint_every, log_every,
                  distill_weight, head_lr_mult, crop_seconds, kl_weight, loss_on_padding, full_mask_share,
                  mask_schedule, category_captions, dropout, rope_dims, head_width, downsample, latent_dim, patch,
                  length_buckets, precision, ema, until_step, time_limit, device, quiet):
    """Train one stage. Under torchrun, trains with DDP across the processes."""
    from t2a_edge.train.loop import train as run
    from t2a_edge.train.stages import Settings

    given = {"steps": steps, "batch": batch, "lr": lr, "checkpoint_every": checkpoint_every,
             "log_every": log_every, "distill_weight": distill_weight, "head_lr_mult": head_lr_mult,
             "crop_seconds": crop_seconds, "kl_weight": kl_weight, "loss_on_padding": loss_on_padding,
             "full_mask_share": full_mask_share, "mask_schedule": mask_schedule,
             "category_captions": category_captions, "dropout": dropout, "rope_dims": rope_dims,
             "head_width": head_width, "downsample": downsample, "latent_dim": latent_dim, "patch": patch,
             "length_buckets": length_buckets, "precision": precision, "ema": ema}
    settings = Settings(stage=stage, preset=preset, seed=seed, init=init,
                        **{k: v for k, v in given.items() if v is not None})
    source = click.get_current_context().get_parameter_source
    named = {k for k, v in given.items() if v is not None}
    named |= {k for k in ("stage", "preset", "seed", "init") if source(k) is not ParameterSource.DEFAULT}
    folder = run(settings, data, out, resume=resume, device=device, show_progress=not quiet, until_step=until_step,
                 time_limit=time_limit * 60 if time_limit else None, named=frozenset(named))
    click.echo(f"model written to {folder}")
