"""`t2a-edge lab`: the research probes, kept out of the product's commands.

The eval probes (`codec`, `coherence`, `tokens`, `phase`, `heldout`, `real`) share `eval`'s options
and judge; the timing and loudness probes (`phase-speed`, `roofline`, `loudness`, `step-rows`,
`train-speed`) keep their own argument parsers (`t2a-edge lab roofline --help`).
"""

from __future__ import annotations

import importlib

import click

from t2a_edge.apps.lab import probes

# command -> (module under t2a_edge.apps.lab, summary); each parses its own arguments.
SCRIPTS = {
    "phase-speed": ("phase_speed", "Time the Griffin-Lim phase and the loudness smoothing after a backend's decoder."),
    "roofline": ("roofline", "How fast one generation could run on this CPU: work per component against GEMM peaks."),
    "loudness": ("loudness", "How loud a model's clips come out before the writer clips them."),
    "step-rows": ("executorch_step_rows", "The ExecuTorch step's one-row and two-row methods, timed in turn."),
    "train-speed": ("train_speed", "Teacher training throughput with each speed-up switched on in turn."),
}


def _script(name, module, summary):
    @click.command(name, help=summary, add_help_option=False,
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args):
        importlib.import_module(f"t2a_edge.apps.lab.{module}").main(list(args), prog=f"t2a-edge lab {name}")

    return command


@click.group("lab")
def lab():
    """Research probes: codec and phase ceilings, token statistics, held-out loss, timing probes."""


for _command in (probes.codec, probes.coherence, probes.tokens, probes.phase, probes.heldout, probes.real):
    lab.add_command(_command)
for _name, (_module, _summary) in SCRIPTS.items():
    lab.add_command(_script(_name, _module, _summary))
