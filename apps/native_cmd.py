"""`t2a-edge native build|check`: the C++ ExecuTorch runner an app embeds, built and checked here."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import numpy as np


@click.group("native")
def native():
    """The native ExecuTorch runner (C++, no Python): build it, or check a bundle under it."""


def _say(text: str) -> None:
    click.echo(text, err=True)


@native.command("build")
def build():
    """Compile the runner once into the cache (CMake and a C++17 compiler) and print its path."""
    from t2a_edge.apps.native import SOURCE_DIR, build_runner

    path = build_runner(progress=_say)
    click.echo(path)
    _say(f"source: {SOURCE_DIR / 'runner.cpp'} (the frames it speaks are described at its top)")


@native.command("check")
@click.option("--model", default="default", show_default=True,
              help="Model folder (its ExecuTorch bundle is converted on first use) or an ExecuTorch bundle.")
@click.option("--precision", type=click.Choice(["fp32", "int8"]), default="int8", show_default=True)
@click.option("--prompt", default="dog barking", show_default=True)
@click.option("--seconds", type=float, default=None, help="Clip length [default: the model's].")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Timed generations per runtime, interleaved, after one warm-up each.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the figures as JSON.")
@click.option("--force", is_flag=True, help="Overwrite an existing --json file.")
def check(model, precision, prompt, seconds, seed, runs, json_path, force):
    """Generate the same clip through the C++ runtime and the Python bindings; compare and time them.

    Fails (exit 1) if the two waveforms differ by more than the bundles' parity bound (SNR 30 dB).
    """
    from t2a_edge.apps.native import NativeExecuTorchBackend, build_runner
    from t2a_edge.convert.bundle import E2E_SNR_DB
    from t2a_edge.convert.quality import snr_db
    from t2a_edge.core.errors import T2AError
    from t2a_edge.core.paths import check_output_file
    from t2a_edge.runtimes.api import TextToAudio

    # Inputs first, then the model (a missing path or a folder that is no model is refused by load),
    # then the runner: nothing waits for a build or a conversion it does not need.
    if json_path:
        check_output_file(json_path, force, "--json")
    python_tta = TextToAudio.load(model, "executorch", None if _is_bundle(model) else precision)
    runner = build_runner(progress=_say)
    python_side = python_tta.backend
    native_side = NativeExecuTorchBackend(python_side.folder, runner)
    try:
        engines = {"pybindings": python_tta, "native": TextToAudio(native_side, python_tta.defaults, str(model))}
        clips = {name: tta.generate(prompt, seconds=seconds, seed=seed) for name, tta in engines.items()}  # warm-up
        snr = snr_db(clips["pybindings"].samples, clips["native"].samples)
        times = {name: [] for name in engines}
        native_side.native_seconds.clear()
        for _ in range(runs):
            for name, tta in engines.items():
                start = time.perf_counter()
                tta.generate(prompt, seconds=seconds, seed=seed)
                times[name].append(time.perf_counter() - start)
        per_component = {c: s / runs * 1000 for c, s in native_side.native_seconds.items()}
    finally:
        native_side.close()
    median = {name: float(np.median(t)) * 1000 for name, t in times.items()}
    clip = clips["native"]
    report = {"runner": str(runner), "bundle": str(python_side.folder), "precision": python_side.precision,
              "prompt": prompt, "seconds": clip.info["seconds"], "steps": clip.info["steps"],
              "seed": seed, "runs": runs, "snr_db": None if np.isinf(snr) else snr, "identical": bool(np.isinf(snr)),
              "max_abs_diff": float(np.abs(clips["pybindings"].samples - clips["native"].samples).max()),
              "end_to_end_ms": median, "native_component_ms": per_component}
    click.echo(f"runner: {runner}")
    click.echo(f"bundle: {python_side.folder} (executorch {python_side.precision})")
    agreement = "identical waveforms" if np.isinf(snr) else f"SNR {snr:.1f} dB, max |difference| {report['max_abs_diff']:.2e}"
    click.echo(f"same seed, native against pybindings: {agreement}")
    click.echo(f"end to end, {clip.info['seconds']:g} s at {clip.info['steps']} step(s), median of {runs}: "
               f"pybindings {median['pybindings']:.1f} ms, native {median['native']:.1f} ms")
    click.echo("inside the C++ runtime per clip: "
               + ", ".join(f"{c} {ms:.1f} ms" for c, ms in per_component.items()))
    if json_path:
        from t2a_edge.core.audio import atomic_write_bytes

        atomic_write_bytes(Path(json_path), lambda tmp: Path(tmp).write_text(json.dumps(report, indent=2)))
    if snr < E2E_SNR_DB:
        raise T2AError(f"the native runner's clip differs from the pybindings' (SNR {snr:.1f} dB < {E2E_SNR_DB} dB)")


def _is_bundle(model: str) -> bool:
    from t2a_edge.core.bundle import is_bundle

    return model != "default" and is_bundle(Path(model).expanduser())
