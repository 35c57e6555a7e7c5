"""The teacher and student stages under two-process DDP (torchrun, gloo on CPU): both ranks end with the
same weights, weight for weight, and the student's frozen teacher is the teacher it was given.

Each rank saves the state of its loss module (model, and for the student the frozen teacher backbone)
when training ends, so the ranks are compared tensor by tensor rather than through a logged checksum.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

# Run under torchrun: saves every rank's loss-module state as the loop reaches its sync check, then
# trains through the real CLI.
RANK_DUMP = """
import os, sys, torch
from safetensors.torch import save_file
from t2a_edge.train import distributed
checksums = distributed.parameter_checksums
def dump(module, ctx):
    state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
    save_file(state, os.path.join(os.environ["T2A_TEST_RANK_DUMP"], f"rank{ctx.rank}.safetensors"))
    return checksums(module, ctx)
distributed.parameter_checksums = dump
from t2a_edge.apps.cli import main
main(sys.argv[1:])
"""


def train_under_torchrun(tmp_path: Path, stage: str, corpus, init: Path) -> tuple[Path, dict, dict]:
    script = tmp_path / "rank_dump.py"
    script.write_text(RANK_DUMP)
    dumps = tmp_path / f"{stage}-ranks"
    dumps.mkdir()
    run = tmp_path / stage
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    cmd = [torchrun, "--standalone", "--nproc_per_node=2", str(script), "train", stage, "--data", str(corpus),
           "--out", str(run), "--init", str(init), "--preset", "tiny", "--steps", "3", "--batch", "2",
           "--checkpoint-every", "3", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "T2A_TEST_RANK_DUMP": str(dumps)}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(line) for line in (run / "train.log").read_text().splitlines()]
    assert [r["world"] for r in records if r["event"] == "start"] == [2]
    ranks = [r for r in records if r["event"] == "ranks"]
    assert ranks and ranks[0]["in_sync"] is True and len(ranks[0]["checksums"]) == 2
    rank0, rank1 = (load_file(dumps / f"rank{r}.safetensors") for r in (0, 1))
    return run, rank0, rank1


def assert_same_weights(rank0: dict, rank1: dict) -> None:
    assert rank0.keys() == rank1.keys() and rank0
    different = [k for k in rank0 if not torch.equal(rank0[k], rank1[k])]
    assert not different, different[:10]


@pytest.mark.parametrize("stage", ["teacher", "student"])
def test_two_process_ddp_stage_keeps_ranks_identical(stage, synthetic_corpus, tiny_runs, tmp_path):
    from t2a_edge.core.model import load_model

    init = tiny_runs["codec" if stage == "teacher" else "teacher"]
    run, rank0, rank1 = train_under_torchrun(tmp_path, stage, synthetic_corpus, init)
    assert_same_weights(rank0, rank1)
    # Rank 0 exported what both ranks hold, and training moved it (each rank draws its own batches:
    # without DDP's averaged gradients the ranks would part).
    trained, start = load_model(run / "model"), load_model(init / "model")
    head = "diffusion_head" if stage == "teacher" else "energy_head"
    for prefix, part in (("backbone.", "backbone"), ("head.", head)):
        exported = getattr(trained, part).state_dict()
        held = {k[len(prefix):]: v for k, v in rank0.items() if k.startswith(prefix)}
        assert held.keys() == exported.keys(), part
        assert all(torch.equal(exported[k].float(), held[k].float()) for k in held), part
    # Both heads start with a zero output layer; three optimizer steps move it.
    assert getattr(trained, head).final.linear.weight.detach().abs().max() > 0
    before = start.backbone.state_dict()
    if stage == "student":  # it starts from its teacher's backbone and leaves it
        assert any(not torch.equal(v, before[k]) for k, v in trained.backbone.state_dict().items())
        # The frozen teacher inside the student's loss is the teacher it was given, unchanged on both ranks.
        frozen = {k[len("teacher."):]: v for k, v in rank0.items() if k.startswith("teacher.")}
        assert frozen.keys() == before.keys()
        assert all(torch.equal(frozen[k], before[k]) for k in frozen)
