"""`t2a-edge bench`: time every backend x precision on this machine in one run.

Each backend runs in its own subprocess (`python -m t2a_edge.apps.bench_cmd --worker SPEC`), so
its peak RSS and its load time are its own; the ONNX Runtime and OpenVINO workers never import
torch. The workers load one after another, then take turns: every timed round asks each worker for
one generation in a rotating order while the others wait idle, so a shared host that drifts slows
every backend alike and the ratios between them hold. The parent converts missing bundles first,
computes the torch fp32 reference waveform, scores every worker's waveform against it, prints a
table, writes JSON and a PNG, and records the fastest backend per precision for `--backend auto`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from t2a_edge.core.errors import T2AError
from t2a_edge.core.paths import check_output_file

BENCH_PROMPTS = ("a dog barks in the distance", "heavy rain on a tin roof", "a car engine starts",
                 "birds chirping at dawn", "a door slams shut", "people talking in a cafe",
                 "thunder rumbles far away", "a phone rings twice")
WORKER_TIMEOUT = 1800  # seconds per backend: a hung runtime must not hang the bench
# Pause before each timed request: the runtime that just ran may keep its threads spinning for a
# moment (OpenMP, ONNX Runtime), which would slow the next worker's run.
SETTLE_S = 0.1


# -- the worker (runs in its own process) ----------------------------------------------------------

def _peak_rss_mb() -> float:
    """This process's own peak resident set (MB).

    On Linux ru_maxrss survives exec, so a worker forked from a large parent would report the
    parent's peak; VmHWM belongs to the worker's own address space.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def _stats(values: list[float]) -> dict:
    import numpy as np

    v = np.asarray(values, np.float64)
    return {"median": float(np.median(v)), "p25": float(np.percentile(v, 25)), "p75": float(np.percentile(v, 75)),
            "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}


PROTOCOL = "T2A-BENCH "  # prefix of the worker's answers on stdout (runtimes may print there too)


def _answer(payload: dict) -> None:
    print(PROTOCOL + json.dumps(payload), flush=True)


def run_worker(spec: dict) -> None:
    """Load one backend, time its load and first call, save its batch-1 waveform; then answer the
    parent's requests on stdin (one JSON line each) until it says finish."""
    import numpy as np

    os.environ["T2A_EDGE_THREADS"] = str(spec["threads"])  # read by every bundle backend
    started = time.perf_counter()
    if spec["backend"] in ("torch", "cuda"):
        import torch

        torch.set_num_threads(spec["threads"])
    from t2a_edge.runtimes.api import TextToAudio

    tta = TextToAudio.load(spec["target"], backend=spec["backend"], precision=spec["precision"])
    cold = time.perf_counter() - started
    started = time.perf_counter()
    tta2 = TextToAudio.load(spec["target"], backend=spec["backend"], precision=spec["precision"])
    warm = time.perf_counter() - started
    del tta2
    settings = {"seconds": spec["seconds"], "steps": spec["steps"], "cfg": spec["cfg"],
                "temperature": spec["temperature"], "spread": spec["spread"], "smooth": spec["smooth"],
                "seed": spec["seed"]}
    started = time.perf_counter()
    first = tta.generate(BENCH_PROMPTS[0], **settings)
    first_call = time.perf_counter() - started
    np.save(spec["wave_out"], first.samples)
    k = min(spec["steps"], tta.backend.config.tokens_for(spec["seconds"]))  # step calls per generation
    _answer({"backend": tta.backend.name, "precision": tta.backend.precision, "why": tta.why,
             "load_cold_s": cold, "load_warm_s": warm, "first_call_s": first_call, "step_calls": k,
             "bundle": getattr(tta.backend, "folder", None) and str(tta.backend.folder)})
    rss_batch1 = None
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "finish":
            break
        batch = request["batch"]
        if batch > 1 and rss_batch1 is None:
            rss_batch1 = _peak_rss_mb()  # before any larger batch: the figure for one clip at a time
        prompts = [BENCH_PROMPTS[i % len(BENCH_PROMPTS)] for i in range(batch)]
        t0 = time.perf_counter()
        clips = tta.generate(prompts if batch > 1 else prompts[0], **settings)
        wall = time.perf_counter() - t0
        timings = (clips[0] if isinstance(clips, list) else clips).info["timings"]
        _answer({"wall": wall, **{key: timings[key] for key in ("total", "text", "steps", "decode")}})
    _answer({"peak_rss_batch1_mb": rss_batch1 if rss_batch1 is not None else _peak_rss_mb(),
             "peak_rss_mb": _peak_rss_mb(), "torch_imported": "torch" in sys.modules})


# -- the parent ------------------------------------------------------------------------------------

def _parse_list(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    for item in items:
        if item not in allowed:
            raise T2AError(f"unknown {what} '{item}': choose from {', '.join(allowed)}")
    if not items:
        raise T2AError(f"no {what} given")
    return list(dict.fromkeys(items))


def _parse_batches(text: str) -> list[int]:
    try:
        batches = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise T2AError(f"--batch takes whole numbers separated by commas, got '{text}'") from None
    if not batches or any(b < 1 for b in batches):
        raise T2AError(f"--batch sizes must be >= 1, got '{text}'")
    return sorted(set(batches))


def _bundle_bytes(folder: str | None) -> int | None:
    if not folder:
        return None
    from t2a_edge.core.bundle import read_manifest

    return sum(c["bytes"] for c in read_manifest(folder)["components"].values())


def _model_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("weights-*.safetensors"))


class _Worker:
    """One backend's subprocess: ask it for a measurement and read its one-line JSON answer."""

    def __init__(self, spec: dict):
        import queue
        import threading

        cmd = [sys.executable, "-m", "t2a_edge.apps.bench_cmd", "--worker", json.dumps(spec)]
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                     text=True, bufsize=1)
        self.answers = queue.Queue()

        def read():  # a thread, so a hung runtime cannot hang the bench (the read has a timeout)
            for line in self.proc.stdout:
                if line.startswith(PROTOCOL):
                    self.answers.put(json.loads(line[len(PROTOCOL):]))
            self.answers.put(None)

        threading.Thread(target=read, daemon=True).start()

    def read(self) -> dict:
        import queue

        try:
            answer = self.answers.get(timeout=WORKER_TIMEOUT)
        except queue.Empty:
            self.proc.kill()
            return {"error": f"timed out after {WORKER_TIMEOUT} s"}
        if answer is None:
            self.proc.wait()
            self.stderr.seek(0)
            tail = (self.stderr.read().strip().splitlines() or ["no output"])[-1]
            return {"error": tail[:300]}
        return answer

    def ask(self, request: dict) -> dict:
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except OSError:
            pass  # the worker died: read() reports its last words
        return self.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.stderr.close()


def _time_interleaved(workers: dict, runs: int, batches: list[int]) -> tuple[dict, list]:
    """Timed rounds: each round asks every live worker for one generation, in a rotating order.

    Returns (combo -> {batch: [answers]}, the order the requests ran in) and drops a worker that fails.
    """
    answers = {key: {b: [] for b in batches} for key in workers}
    schedule = []
    for batch in batches:
        rounds = runs if batch == 1 else max(1, runs // 2)
        if batch > 1:
            for key in list(workers):  # warm-up at this batch size
                _ask(workers, key, batch)
        for r in range(rounds):
            keys = list(workers)
            for key in keys[r % len(keys):] + keys[:r % len(keys)] if keys else []:
                answer = _ask(workers, key, batch)
                if answer is not None:
                    answers[key][batch].append(answer)
                    schedule.append([key[0], key[1], batch, r])
    return answers, schedule


def _ask(workers: dict, key, batch: int):
    time.sleep(SETTLE_S)
    answer = workers[key].ask({"op": "run", "batch": batch})
    if "error" in answer:
        workers.pop(key).failed = answer["error"]
        return None
    return answer


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _table(rows: list[dict], batches: list[int]) -> list[str]:
    """One line per backend x precision; times are medians of the timed runs at batch 1."""
    columns = [("backend", 11, "<"), ("prec", 5, "<"), ("load cold/warm s", 17, ">"), ("1st call s", 11, ">"),
               ("e2e ms [IQR]", 20, ">"), ("text ms", 8, ">"), ("step ms", 8, ">"), ("dec ms", 8, ">"),
               ("RTF", 7, ">")] + [(f"clips/s@{b}", 11, ">") for b in batches] + [
               ("RSS@1 MB", 8, ">"), ("RSS MB", 7, ">"), ("size MB", 8, ">"), ("SNR dB", 7, ">"), ("mel cos", 8, ">"),
               ("judge", 6, ">"), ("vs torch", 9, ">")]
    line = lambda cells: " ".join(f"{c:{a}{w}}" for c, (_, w, a) in zip(cells, columns))  # noqa: E731
    out = [line([c[0] for c in columns])]
    out.append("-" * len(out[0]))
    for r in rows:
        if "latency_s" not in r:
            out.append(f"{r['backend']:<11} {r['precision']:<5} {r.get('skipped') or 'failed: ' + r.get('error', '?')}")
            continue
        lat, comp, drift = r["latency_s"], r["components_s"], r.get("drift", {})
        size = r.get("bundle_bytes") or r.get("model_bytes")
        snr = drift.get("snr_db")
        cells = [r["backend"], r["precision"], f"{r['load_cold_s']:.2f}/{r['load_warm_s']:.2f}",
                 f"{r['first_call_s']:.2f}",
                 f"{1e3 * lat['median']:.0f} [{1e3 * lat['p25']:.0f}-{1e3 * lat['p75']:.0f}]",
                 f"{1e3 * comp['text']['median']:.1f}", f"{r['step_call_ms']['median']:.1f}",
                 f"{1e3 * comp['decode']['median']:.1f}", f"{r['rtf']:.3f}"]
        cells += [f"{r['throughput'][str(b)]['clips_per_second']:.2f}" for b in batches]
        cells += [f"{r['peak_rss_batch1_mb']:.0f}", f"{r['peak_rss_mb']:.0f}", _fmt(size and size / 2**20, ".1f"),
                  "inf" if snr == float("inf") else _fmt(snr, ".1f"), _fmt(drift.get("logmel_cosine"), ".4f"),
                  _fmt(drift.get("judge_cosine"), ".3f"), _fmt(r.get("speedup_vs_torch"), ".2f") + "x"]
        out.append(line(cells))
    return out


def _plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if "latency_s" in r]
    if not ok:
        raise T2AError("nothing to plot: every backend failed")
    labels = [f"{r['backend']}\n{r['precision']}" for r in ok]
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.6 * len(ok) + 4), 4.5))
    bottom = [0.0] * len(ok)
    for key, color in (("text", "#8fbcd4"), ("steps", "#2b6a99"), ("decode", "#e39b3b")):
        values = [1e3 * r["components_s"][key]["median"] for r in ok]
        axes[0].bar(labels, values, bottom=bottom, color=color, label=key)
        bottom = [b + v for b, v in zip(bottom, values)]
    err = [[1e3 * (r["latency_s"]["median"] - r["latency_s"]["p25"]) for r in ok],
           [1e3 * (r["latency_s"]["p75"] - r["latency_s"]["median"]) for r in ok]]
    axes[0].errorbar(labels, [1e3 * r["latency_s"]["median"] for r in ok], yerr=err, fmt="none", ecolor="black",
                     capsize=3)
    axes[0].set_ylabel("end-to-end latency, batch 1 (ms, median, IQR)")
    axes[0].legend()
    axes[1].bar(labels, [r["peak_rss_mb"] for r in ok], color="#b5c99a", label="all batches")
    axes[1].bar(labels, [r["peak_rss_batch1_mb"] for r in ok], color="#7a9a5a", label="batch 1")
    axes[1].set_ylabel("peak RSS (MB)")
    axes[1].legend()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


@click.command("bench")
@click.option("--model", default="default", show_default=True,
              help="'default', a model folder, or random:small / random:tiny (random weights: speed only).")
@click.option("--backends", default="torch,onnx,openvino,executorch,coreml", show_default=True,
              help="Comma-separated backends.")
@click.option("--precisions", default="fp32,int8", show_default=True, help="Comma-separated precisions.")
@click.option("--seconds", type=float, default=10.0, show_default=True, help="Clip length.")
@click.option("--batch", "batch", default="1,8", show_default=True, help="Batch sizes for throughput.")
@click.option("--steps", type=int, default=None, help="Generation iterations K [model default].")
@click.option("--runs", type=int, default=5, show_default=True, help="Timed runs per backend (after a warm-up).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Write results as JSON.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, help="Write a PNG bar chart.")
@click.option("--force", is_flag=True, help="Overwrite existing --json/--plot files.")
@click.option("--threads", type=int, default=None,
              help="Threads for every backend [$T2A_EDGE_THREADS, else the CPUs this process may use].")
@click.option("--no-record", is_flag=True, help="Do not record the fastest backend for --backend auto.")
def bench(model, backends, precisions, seconds, batch, steps, runs, json_path, plot_path, force, threads, no_record):
    """Time every backend x precision on this machine (each in its own process, in interleaved rounds)
    against torch fp32."""
    import platform

    from t2a_edge.apps.convert_cmd import resolve_model
    from t2a_edge.core.bundle import PRECISIONS
    from t2a_edge.core.model_files import read_model_meta
    from t2a_edge.runtimes.api import FALLBACK_DEFAULTS
    from t2a_edge.runtimes.select import BACKENDS, ensure_bundle, record_fastest, unavailable_reason

    names = _parse_list(backends, BACKENDS[1:], "backend")
    precs = _parse_list(precisions, PRECISIONS, "precision")
    batches = _parse_batches(batch)
    if runs < 1:
        raise T2AError(f"--runs must be >= 1, got {runs}")
    if threads is not None and threads < 1:
        raise T2AError(f"--threads must be >= 1, got {threads}")
    from t2a_edge.runtimes.bundle_backend import default_threads

    threads = threads or default_threads()
    for flag, path in (("--json", json_path), ("--plot", plot_path)):
        if path:
            check_output_file(path, force, flag)
    if plot_path and not plot_path.lower().endswith(".png"):
        raise T2AError(f"--plot writes a PNG: give a .png file name, not {plot_path}")
    folder = resolve_model(model)
    meta = read_model_meta(folder)
    if meta.get("kind") != "student":
        raise T2AError(f"bench measures student models (the edge path); {folder} is a {meta.get('kind')} model")
    from t2a_edge.core.config import ModelConfig

    config = ModelConfig.from_dict(meta["config"])
    if not 0 < seconds <= config.max_seconds:
        raise T2AError(f"--seconds must be in (0, {config.max_seconds:g}] for this model, got {seconds:g}")
    defaults = dict(FALLBACK_DEFAULTS["student"], **meta.get("defaults", {}))
    steps = steps or int(defaults["steps"])
    if steps < 1:
        raise T2AError(f"--steps must be >= 1, got {steps}")
    settings = {"seconds": seconds, "steps": steps, "cfg": float(defaults["cfg"]),
                "temperature": float(defaults["temperature"]), "spread": float(defaults["spread"]),
                "smooth": float(defaults["smooth"]), "seed": 0, "threads": threads}
    combos, rows = [], []
    for name in names:
        for prec in precs:
            if name in ("torch", "cuda") and prec != "fp32":
                continue  # torch runs fp32 only
            reason = unavailable_reason(name)
            if reason:
                rows.append({"backend": name, "precision": prec, "skipped": f"skipped: {reason}"})
                continue
            combos.append((name, prec))
    if not combos:
        raise T2AError("no backend in --backends can run here")
    targets = {}
    for name, prec in combos:
        if name in ("torch", "cuda"):
            targets[name, prec] = str(folder)
        else:
            bundle, converted = ensure_bundle(folder, name, prec)
            if converted:
                click.echo(f"converted {name} {prec} -> {bundle}", err=True)
            targets[name, prec] = str(bundle)
    click.echo(f"reference: torch fp32, {seconds:g} s, steps {steps}, seed 0", err=True)
    with tempfile.TemporaryDirectory(prefix="t2a-bench-") as tmp:
        reference = _reference_wave(folder, settings, Path(tmp) / "reference.npy")
        from t2a_edge.convert import quality
        import numpy as np

        workers, ready = {}, {}
        try:
            for name, prec in combos:
                click.echo(f"loading {name} {prec} in a fresh process ...", err=True)
                spec = dict(settings, target=targets[name, prec], backend=name, precision=prec,
                            wave_out=str(Path(tmp) / f"{name}-{prec}.npy"))
                worker = _Worker(spec)
                ready[name, prec] = worker.read()
                if "error" in ready[name, prec]:
                    worker.close()
                else:
                    workers[name, prec] = worker
            live = dict(workers)
            click.echo(f"timing {len(live)} backends in interleaved rounds ({runs} at batch 1) ...", err=True)
            answers, schedule = _time_interleaved(live, runs, batches)
            finals = {key: (w.ask({"op": "finish"}) if key in live else {"error": w.failed})
                      for key, w in workers.items()}
        finally:
            for worker in workers.values():
                worker.close()
        for name, prec in combos:
            key = (name, prec)
            row = {"backend": name, "precision": prec, **ready[key]}
            if "error" not in row and "error" in finals[key]:
                row = {"backend": name, "precision": prec, "error": finals[key]["error"]}
            if "error" not in row:
                row.update(finals[key])
                row.update(_summarise(answers[key], batches, settings["seconds"], row.pop("step_calls")))
                row["drift"] = quality.compare(np.load(Path(tmp) / f"{name}-{prec}.npy"), reference,
                                               config.codec.sample_rate)
                row["bundle_bytes"] = _bundle_bytes(row.get("bundle")) if name not in ("torch", "cuda") else None
                row["model_bytes"] = _model_bytes(folder) if name in ("torch", "cuda") else None
            rows.append(row)
    torch_row = next((r for r in rows if r["backend"] == "torch" and "latency_s" in r), None)
    for r in rows:
        if torch_row and "latency_s" in r:
            r["speedup_vs_torch"] = torch_row["latency_s"]["median"] / r["latency_s"]["median"]
    fp32_of = {r["backend"]: r for r in rows if r["precision"] == "fp32" and "latency_s" in r}
    for r in rows:
        if r["precision"] != "fp32" and "latency_s" in r and r["backend"] in fp32_of:
            r["speedup_vs_fp32"] = fp32_of[r["backend"]]["latency_s"]["median"] / r["latency_s"]["median"]
    order = {(n, p): i for i, (n, p) in enumerate((n, p) for n in names for p in precs)}
    rows.sort(key=lambda r: order.get((r["backend"], r["precision"]), 99))
    random_weights = bool(meta.get("random_weights"))
    title = (f"t2a-edge bench: {seconds:g} s clip, K={steps}, batch 1, {platform.machine()} x{os.cpu_count()}, "
             f"{threads} thread{'s' if threads > 1 else ''}"
             + (" (random weights)" if random_weights else ""))
    click.echo(title + (f"; model {folder}" if not random_weights else f"; model {model}"))
    for line in _table(rows, batches):
        click.echo(line)
    fastest = {}
    for prec in precs:
        timed = [r for r in rows if r["precision"] == prec and "latency_s" in r]
        if timed:
            best = min(timed, key=lambda r: r["latency_s"]["median"])
            fastest[prec] = {"backend": best["backend"], "rtf": best["rtf"],
                             "latency_s": best["latency_s"]["median"],
                             "measured": time.strftime("%Y-%m-%d %H:%M"), "seconds": seconds, "steps": steps,
                             "model": str(model), "compared": sorted({r["backend"] for r in timed})}
            click.echo(f"fastest {prec}: {best['backend']} (RTF {best['rtf']:.3f})")
    if fastest and not no_record:
        path, notes = record_fastest(fastest)
        for note in notes:
            click.echo(note)
        click.echo(f"recorded for --backend auto: {path}")
    result = {"settings": dict(settings, batches=batches, runs=runs), "schedule": schedule,
              "model": str(model), "model_folder": str(folder),
              "random_weights": random_weights, "machine": {"platform": platform.platform(),
                                                            "machine": platform.machine(), "cpus": os.cpu_count(),
                                                            "load_average": list(os.getloadavg())
                                                            if hasattr(os, "getloadavg") else None},
              "rows": rows, "fastest": fastest}
    if json_path:
        from t2a_edge.core.audio import atomic_write_bytes

        atomic_write_bytes(Path(json_path), lambda t: Path(t).write_text(json.dumps(result, indent=2)))
        click.echo(f"wrote {json_path}")
    if plot_path:
        from t2a_edge.core.audio import atomic_write_bytes

        atomic_write_bytes(Path(plot_path), lambda t: _plot(rows, Path(t), title) or None)
        click.echo(f"wrote {plot_path}")


def _summarise(answers: dict, batches: list[int], seconds: float, step_calls: int) -> dict:
    """Latency statistics at batch 1 and throughput at every batch from one worker's answers."""
    import numpy as np

    ones = answers[1]
    totals = [a["total"] for a in ones]
    parts = {key: [a[key] for a in ones] for key in ("text", "steps", "decode")}
    throughput = {}
    for batch in batches:
        median = float(np.median([a["wall"] for a in answers[batch]]))
        throughput[str(batch)] = {"seconds_per_batch": median, "clips_per_second": batch / median,
                                  "audio_seconds_per_second": batch * seconds / median}
    return {"latency_s": _stats(totals), "components_s": {key: _stats(v) for key, v in parts.items()},
            "step_call_ms": _stats([1e3 * s / step_calls for s in parts["steps"]]),
            "rtf": float(np.median(totals)) / seconds, "throughput": throughput}


def _reference_wave(folder: Path, settings: dict, out: Path):
    """torch fp32 batch-1 waveform of the bench prompt (in a subprocess, so torch stays out of here)."""
    import numpy as np

    spec = dict(settings, target=str(folder), backend="torch", precision="fp32", wave_out=str(out))
    cmd = [sys.executable, "-m", "t2a_edge.apps.bench_cmd", "--reference", json.dumps(spec)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    if run.returncode != 0 or not out.exists():
        tail = (run.stderr.strip().splitlines() or ["no output"])[-1]
        raise T2AError(f"the torch fp32 reference failed: {tail[:300]}")
    return np.load(out)


def _reference_main(spec: dict) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(spec["threads"])
    from t2a_edge.runtimes.api import TextToAudio

    tta = TextToAudio.load(spec["target"], backend="torch", precision="fp32")
    clip = tta.generate(BENCH_PROMPTS[0], seconds=spec["seconds"], steps=spec["steps"], cfg=spec["cfg"],
                        temperature=spec["temperature"], spread=spec["spread"], smooth=spec["smooth"],
                        seed=spec["seed"])
    np.save(spec["wave_out"], clip.samples)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("--worker", "--reference"):
        try:
            payload = json.loads(sys.argv[2])
            if sys.argv[1] == "--worker":
                run_worker(payload)
            else:
                _reference_main(payload)
        except T2AError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
    else:
        print("internal entry point of `t2a-edge bench`", file=sys.stderr)
        sys.exit(2)
