"""Backend selection: turn (model or bundle, backend name, precision) into a loaded backend and a reason.

    load_backend(model, backend, precision, device) -> (backend, model metadata, why)

- A bundle folder runs on the backend it was converted for.
- A model folder (or 'default') runs on torch/cuda directly; on an edge backend it runs from a
  bundle cached in bundles_dir()/<model sha>/<backend>-<precision>/. Naming the backend (or an int8
  or fp16 precision, which torch cannot run) converts it on first use, one process at a time (a
  lock: a second process waits and then loads what the first one wrote).
- 'auto' never converts for a plain request: it runs on a converted bundle already in the cache, the
  fastest one whose quality check passed (int8 before fp32: int8 measured 2-3x faster at judge cosine
  0.998), and otherwise on torch, which is ready at once, and says which bundle `t2a-edge convert`
  would make. CUDA when a GPU is present comes first; a teacher runs on torch only. The target
  backend of a conversion is CoreML on macOS, otherwise the backend the last `t2a-edge bench` on
  this machine measured fastest, otherwise the first installed of DEFAULT_ORDER. The reason is
  returned for the user (TextToAudio.why).

The ONNX Runtime and OpenVINO paths never import torch once their bundle exists.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

from t2a_edge.core.bundle import EDGE_BACKENDS, PRECISIONS, is_bundle, read_manifest
from t2a_edge.core.errors import T2AError
from t2a_edge.core.model_files import model_sha, resolve_model_dir

BACKENDS = ("auto", "torch", "cuda") + EDGE_BACKENDS
# When nothing was measured here. OpenVINO first: on an x86 CPU with bf16 `t2a-edge bench` measured
# it fastest at fp32 and int8 (10 s, fp32: OpenVINO 61 ms, ExecuTorch 96, torch 128, ONNX Runtime
# 142); on an AVX2-only one ONNX Runtime led by less than that host's noise at fp32 (171 vs 180 ms)
# and by 1.2x at int8 (see the README).
DEFAULT_ORDER = ("openvino", "onnx", "executorch", "torch")
RUNTIME_PACKAGES = {"torch": "torch", "cuda": "torch", "onnx": "onnxruntime", "openvino": "openvino",
                    "coreml": "coremltools", "executorch": "executorch"}
FASTEST_FILE = "fastest.json"
# Which precision 'auto' prefers among ready bundles whose quality check passed: int8 measured 2-3x
# faster than fp32 on every edge backend (README); fp16 is slower than both on CPUs.
PRECISION_ORDER = ("int8", "fp32", "fp16")


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def cuda_available() -> bool:
    """True when torch sees a CUDA GPU; avoids importing torch on machines with no NVIDIA driver."""
    import sys

    if "torch" not in sys.modules:
        if not _installed("torch"):
            return False
        if not (Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi")):
            return False
    import torch

    return bool(torch.cuda.is_available())


def unavailable_reason(backend: str) -> str | None:
    """Why `backend` cannot run on this machine, or None if it can."""
    package = RUNTIME_PACKAGES[backend]
    if backend == "coreml":
        from t2a_edge.runtimes.coreml_backend import coreml_unavailable_reason

        return coreml_unavailable_reason()
    if not _installed(package):
        extra = "torch" if package == "torch" else "'t2a-edge[edge]'"
        return f"{package} is not installed (pip install {extra})"
    if backend == "cuda" and not cuda_available():
        return "no CUDA GPU is available here"
    return None


def runnable_backends() -> list[str]:
    return [b for b in BACKENDS[1:] if unavailable_reason(b) is None]


def _refuse(backend: str, reason: str) -> T2AError:
    others = [b for b in runnable_backends() if b != backend]
    return T2AError(f"backend '{backend}' cannot run here: {reason}; available: {', '.join(others) or 'none'}")


# -- bundles in the cache --------------------------------------------------------------------------

def cached_bundle_dir(folder: Path, backend: str, precision: str) -> Path:
    from t2a_edge.core.paths import bundles_dir

    return bundles_dir() / model_sha(folder) / f"{backend}-{precision}"


def convert_model_folder(folder: Path, backend: str, precision: str, out: Path, force: bool = False,
                         progress=True) -> dict:
    """Convert a model folder into a bundle at `out` (torch and the exporters needed)."""
    if not _installed("torch"):
        raise T2AError(f"converting to {backend} needs torch (pip install torch), or a ready bundle: "
                       "pass a bundle folder with --model")
    from t2a_edge.convert.bundle import convert_bundles
    from t2a_edge.core.model import load_model
    from t2a_edge.core.model_files import read_model_meta

    meta = read_model_meta(folder)
    if meta.get("kind") != "student":
        raise T2AError(f"edge bundles are for student models (energy head); {folder} is a {meta.get('kind')} model: "
                       "run it with --backend torch")
    model = load_model(folder)
    model_meta = {"sha": model_sha(folder), "source": str(Path(folder).resolve()),
                  "defaults": meta.get("defaults", {})}
    bar = StageReport(f"converting for {backend} {precision}") if progress is True else None
    callback = progress if callable(progress) else (bar if bar else None)
    try:
        manifests = convert_bundles(model, [backend], [precision], lambda b, p: out, model_meta=model_meta,
                                    force=force, progress=callback)
    finally:
        if bar:
            bar.close()
    return manifests[backend, precision]


class StageReport:
    """Progress of a long job made of stages, on stderr: a tqdm bar on a terminal, otherwise one line
    per stage (a log, a CI job or a pipe shows that something is happening, and what)."""

    def __init__(self, label: str, stream=None):
        self.label, self.stream = label, stream or sys.stderr
        self.bar = None
        if _is_terminal(self.stream):
            from tqdm import tqdm

            self.bar = tqdm(total=1, desc=label, unit="stage", leave=False, dynamic_ncols=True, file=self.stream)

    def __call__(self, text: str, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.set_postfix_str(text[:40])
            self.bar.update(done - self.bar.n)
        else:
            print(f"{self.label}: stage {done}/{total}: {text}", file=self.stream, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def lock_path(out: Path) -> Path:
    """The lock file guarding the conversion of one cached bundle (outside the bundle folders, so that
    `cache list/clean` never see it and an emptied model folder can still be removed)."""
    from t2a_edge.core.paths import cache_dir

    return cache_dir() / "locks" / f"{Path(out).parent.name}-{Path(out).name}.lock"


@contextmanager
def conversion_lock(out: Path, wait: bool = True, say=_say):
    """Hold the lock of the cached bundle `out` while converting it; yields whether it is held.

    One process converts; another one asking for the same bundle waits (saying so) and then finds it
    converted, or, with wait=False, gets False at once and uses what is ready. The OS drops the lock of
    a process that dies, so a killed conversion never blocks the next one. No locking where the OS has
    no flock (Windows): there the last finished conversion wins, as before.
    """
    try:
        import fcntl
    except ImportError:
        yield True
        return
    path = lock_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                yield False
                return
            say(f"another t2a-edge process is converting {Path(out).name} for this model: waiting for it "
                f"(lock {path})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_bundle(folder: Path, backend: str, precision: str, progress=True) -> tuple[Path, bool]:
    """The cached bundle of a model for a backend and precision, converting it once if missing.

    Returns (bundle folder, whether it was converted now). Concurrent callers convert once: the
    others wait for the lock and then load the bundle it wrote.
    """
    out = cached_bundle_dir(folder, backend, precision)
    if _current(out):
        return out, False
    with conversion_lock(out, say=_say if progress else (lambda text: None)):
        if _current(out):  # another process converted it while this one waited
            return out, False
        try:
            convert_model_folder(folder, backend, precision, out, force=out.exists(), progress=progress)
        except T2AError:
            if _current(out):  # a process without the lock (no flock here) finished first
                return out, False
            raise
    return out, True


def quality_check(manifest: dict) -> tuple[bool, str]:
    """(passed, in words) for the end-to-end quality check recorded in a bundle's manifest.

    An fp32 bundle is written only after its SNR against torch passed. An int8 or fp16 bundle passed
    when the YAMNet judge heard it as the fp32 model (embedding cosine >= the converter's gate); a
    conversion where the judge was not installed could not check that.
    """
    from t2a_edge.convert.bundle import JUDGE_COSINE

    precision = manifest.get("precision")
    e2e = (manifest.get("parity") or {}).get("end_to_end") or {}
    if precision == "fp32":
        snr = e2e.get("snr_db")
        return True, (f"SNR {snr:.0f} dB against torch" if isinstance(snr, (int, float)) else "fp32")
    judge = e2e.get("judge_cosine")
    if isinstance(judge, (int, float)) and judge >= JUDGE_COSINE:
        return True, f"judge cosine {judge:.3f} against fp32"
    if isinstance(judge, (int, float)):
        return False, f"its judge cosine {judge:.3f} is below {JUDGE_COSINE}"
    return False, ("its quality was not checked (the YAMNet judge was not installed when it was converted; "
                   f"`t2a-edge convert --backend {manifest.get('backend')} --precision {precision} --force` "
                   "checks it)")


def ready_bundles(folder: Path, precisions=PRECISION_ORDER) -> list[tuple[str, str, Path, bool, str]]:
    """The current cached bundles of a model that can run here, as (backend, precision, path, quality
    passed, quality in words), fastest first: by precision (PRECISION_ORDER), then the backend the
    last bench measured fastest at that precision, then DEFAULT_ORDER."""
    fastest = read_fastest()
    found = []
    for precision in precisions:
        for backend in EDGE_BACKENDS:
            path = cached_bundle_dir(folder, backend, precision)
            if not _current(path) or unavailable_reason(backend) is not None:
                continue
            try:
                passed, words = quality_check(read_manifest(path))
            except T2AError:
                continue
            record = fastest.get(precision)
            benched = isinstance(record, dict) and record.get("backend") == backend
            order = DEFAULT_ORDER.index(backend) if backend in DEFAULT_ORDER else len(DEFAULT_ORDER)
            found.append(((PRECISION_ORDER.index(precision), not benched, order), backend, precision, path, passed,
                          words))
    found.sort(key=lambda item: item[0])
    return [item[1:] for item in found]


def _current(folder: Path) -> bool:
    """A cached bundle made by this version of the converter."""
    from t2a_edge.core.bundle import CONVERTER_VERSION

    if not is_bundle(folder):
        return False
    try:
        return read_manifest(folder).get("converter") == CONVERTER_VERSION
    except T2AError:
        return False


# -- the bench record that 'auto' reads ------------------------------------------------------------

def fastest_record_path() -> Path:
    from t2a_edge.core.paths import cache_dir

    return cache_dir() / "bench" / FASTEST_FILE


def read_fastest() -> dict:
    """{precision: {"backend": ..., "rtf": ..., "measured": ...}} from the last bench, or {}."""
    path = fastest_record_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record_fastest(record: dict) -> tuple[Path, list[str]]:
    """Store the bench's fastest backend per precision (atomic write); returns the path and notes.

    An entry may list the backends it `compared`. A run that did not time the recorded winner
    cannot say it is faster than that winner, so it leaves that precision's record alone (a
    `bench --backends onnx` run must not displace an OpenVINO record from a full run).
    """
    from t2a_edge.core.audio import atomic_write_bytes

    path = fastest_record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    merged, notes = read_fastest(), []
    for precision, entry in record.items():
        old = merged.get(precision)
        compared = entry.get("compared")
        if (isinstance(old, dict) and compared is not None and old.get("backend") not in compared
                and old.get("backend") != entry.get("backend")):
            notes.append(f"kept the {precision} record: {old.get('backend')} (measured {old.get('measured', '?')})"
                         f" was not in this run")
            continue
        merged[precision] = entry
    atomic_write_bytes(path, lambda tmp: Path(tmp).write_text(json.dumps(merged, indent=2)))
    return path, notes


def choose_auto(kind: str, precision: str) -> tuple[str, str]:
    """(backend, why) for backend='auto' with a model folder."""
    if kind != "student":
        if cuda_available():
            return "cuda", f"auto: {kind} models run on torch only; a CUDA GPU is present"
        return "torch", f"auto: {kind} models run on torch only (CPU, no CUDA GPU)"
    if precision == "fp32" and cuda_available():
        return "cuda", "auto: a CUDA GPU is present (full-precision reference)"
    if platform.system() == "Darwin" and unavailable_reason("coreml") is None:
        return "coreml", "auto: macOS with coremltools: CoreML"
    fastest = read_fastest().get(precision)
    if isinstance(fastest, dict) and fastest.get("backend") in BACKENDS[1:]:
        name = fastest["backend"]
        if unavailable_reason(name) is None and (name in EDGE_BACKENDS or precision == "fp32"):
            detail = f"real-time factor {fastest['rtf']:.3f}" if isinstance(fastest.get("rtf"), (int, float)) else ""
            when = f" on {fastest['measured']}" if fastest.get("measured") else ""
            return name, (f"auto: {name} was the fastest {precision} backend in `t2a-edge bench` on this machine"
                          f"{when}{' (' + detail + ')' if detail else ''}")
    for name in DEFAULT_ORDER:
        if name == "torch" and precision != "fp32":
            continue
        if unavailable_reason(name) is None:
            return name, (f"auto: no GPU, not macOS, no bench record; first installed of the default order "
                          f"{' > '.join(DEFAULT_ORDER)}")
    raise T2AError(f"no backend can run {precision} here: install onnxruntime (pip install 't2a-edge[edge]') "
                   "or torch")


def auto_choice(folder: Path, kind: str, precision: str | None) -> tuple[str, str, str]:
    """(backend, precision, why) for backend='auto' with a model folder.

    'auto' does not convert for a plain request: a minute of conversion before the first clip is
    not what a user asking for one clip expects. It runs on the fastest cached bundle whose quality
    check passed, else on torch fp32 (ready at once) and names the conversion that would make it
    faster. An int8 or fp16 request, which torch cannot run, converts for the target backend.
    """
    target, why = choose_auto(kind, precision or "fp32")
    if kind != "student" or target in ("torch", "cuda"):
        return target, precision or "fp32", why
    bundles = ready_bundles(folder, (precision,) if precision else PRECISION_ORDER)
    usable = [b for b in bundles if b[3]] + ([b for b in bundles if not b[3]] if precision else [])
    notes = "".join(f"; {b} {p} is cached but not used: {words}" for b, p, _, ok, words in bundles
                    if not ok and (b, p) != tuple(usable[0][:2] if usable else ()))
    if usable:
        name, prec, _, passed, words = usable[0]
        if passed:
            what = "the fastest converted bundle here whose quality check passed"
        else:
            what = f"the converted {prec} bundle asked for, although {words}"
        return name, prec, f"auto: {what} ({words}){notes}"
    if precision in (None, "fp32") and unavailable_reason("torch") is None:
        return "torch", "fp32", (f"auto: ready at once, no converted bundle in the cache yet{notes}; "
                                 f"`t2a-edge convert` makes the {target} bundles (int8 measured 2-3x faster), "
                                 "which auto then uses")
    return target, precision or "fp32", f"{why}; converting, as {precision or 'fp32'} was asked for"


# -- loading ---------------------------------------------------------------------------------------

def passive_threads() -> None:
    """Let torch's OpenMP threads sleep between calls rather than spin, unless the user set the policy.

    Read once, when torch loads. On a 2-core machine shared with other work, spinning threads made the
    first clip's text, steps and decode take 3-5 s instead of 0.15 s (the ONNX Runtime sessions do not
    spin either: runtimes.onnx_backend.session_options).
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _bundle_backend(folder: Path, backend: str):
    """Instantiate the runtime class of an edge backend on a bundle folder."""
    reason = unavailable_reason(backend)
    if reason:
        raise _refuse(backend, reason)
    if backend == "onnx":
        from t2a_edge.runtimes.onnx_backend import OnnxBackend as cls
    elif backend == "openvino":
        from t2a_edge.runtimes.openvino_backend import OpenVinoBackend as cls
    elif backend == "coreml":
        from t2a_edge.runtimes.coreml_backend import CoreMLBackend as cls
    else:
        from t2a_edge.runtimes.executorch_backend import ExecuTorchBackend as cls
    return cls(folder)


def _check_names(backend: str, precision: str | None) -> None:
    if backend not in BACKENDS:
        raise T2AError(f"unknown backend '{backend}': choose one of {', '.join(BACKENDS)}")
    if precision is not None and precision not in PRECISIONS:
        raise T2AError(f"unknown precision '{precision}': choose one of {', '.join(PRECISIONS)}")


def model_limits(model) -> tuple[str, float]:
    """(kind, longest clip in seconds) of a model folder, 'default' or a bundle, from its JSON alone."""
    path = Path(model).expanduser()
    if str(model) != "default" and is_bundle(path):
        manifest = read_manifest(path)
        limit = manifest.get("max_seconds")  # absent or odd: the check after loading still applies
        return manifest.get("kind", "student"), float(limit) if isinstance(limit, (int, float)) else float("inf")
    from t2a_edge.core.config import ModelConfig
    from t2a_edge.core.model_files import read_model_meta

    meta = read_model_meta(resolve_model_dir(model))
    if meta.get("kind", "student") not in ("student", "teacher"):
        return meta.get("kind"), 0.0
    try:
        config = ModelConfig.from_dict(meta["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise T2AError(f"the config in {resolve_model_dir(model)}/model.json is unreadable: {exc}") from None
    return meta.get("kind", "student"), float(config.max_seconds)


def load_bundle(folder: Path, backend: str = "auto", precision: str | None = None):
    """A bundle folder on its own backend."""
    manifest = read_manifest(folder)
    own = manifest["backend"]
    if backend not in ("auto", own):
        raise T2AError(f"{folder} is a bundle for {own} and runs on {own}, not {backend}: pass the model folder "
                       f"to use {backend}")
    if precision is not None and precision != manifest["precision"]:
        raise T2AError(f"{folder} is an {manifest['precision']} bundle, not {precision}: pass --precision "
                       f"{manifest['precision']} (or the model folder to convert for {precision})")
    runtime = _bundle_backend(folder, own)
    why = f"bundle for {own} {manifest['precision']}"
    if backend == "auto":
        why += " (auto: the bundle's own backend)"
    meta = {"kind": "student", "defaults": manifest.get("model", {}).get("defaults", {}), "bundle": str(folder),
            "manifest": manifest}
    return runtime, meta, why


def load_backend(model, backend: str = "auto", precision: str | None = None, device: str | None = None,
                 progress=True):
    """Returns (backend, model metadata, why it was chosen)."""
    _check_names(backend, precision)
    if str(model) != "default" and is_bundle(Path(model).expanduser()):
        if device is not None:
            raise T2AError("--device applies to the torch backend, not to a bundle")
        return load_bundle(Path(model).expanduser(), backend, precision)
    folder = resolve_model_dir(model)
    from t2a_edge.core.model_files import read_model_meta, verify_model_files

    meta = read_model_meta(folder)
    kind = meta.get("kind", "student")
    why = None
    if device == "cuda" and backend in ("auto", "torch"):
        backend, why = "cuda", "asked for the CUDA device"
    elif device == "cpu" and backend == "auto":
        backend, why = "torch", "asked for the CPU torch device"
    if backend == "auto":
        backend, precision, why = auto_choice(folder, kind, precision)
    precision = precision or "fp32"
    if backend in ("torch", "cuda"):
        reason = unavailable_reason(backend)
        if reason:
            raise _refuse(backend, reason)
        if precision != "fp32":
            raise T2AError(f"the torch backend runs fp32 only, not {precision}: use --backend onnx, openvino or "
                           "executorch for int8")
        if device == "cpu" and backend == "cuda":
            raise T2AError("--backend cuda and --device cpu contradict each other")
        passive_threads()
        from t2a_edge.core.model import load_model
        from t2a_edge.runtimes.torch_backend import TorchBackend

        device = "cuda" if backend == "cuda" else "cpu"
        return TorchBackend(load_model(folder, device), device), meta, why or f"asked for {backend}"
    if device is not None:
        raise T2AError(f"--device applies to the torch backend, not to {backend}")
    if kind != "student":
        raise T2AError(f"edge bundles are for student models (energy head); this is a {kind} model: "
                       "run it with --backend torch")
    reason = unavailable_reason(backend)
    if reason:
        raise _refuse(backend, reason)
    # A cached bundle is keyed by model.json; the weights it names must still be intact.
    verify_model_files(folder, meta)
    bundle, converted = ensure_bundle(folder, backend, precision, progress)
    runtime, _, _ = load_bundle(bundle, backend, precision)
    why = why or f"asked for {backend}"
    why += f"; bundle {'converted now and cached' if converted else 'from the cache'} at {bundle}"
    if converted:
        # A new bundle often replaces one of an older model.json (an upgrade, a retrained run), which
        # nothing removes by itself: said once, when the disk was just spent.
        from t2a_edge.runtimes.bundle_cache import unused_note

        note = unused_note()
        why += f"; {note}" if note else ""
    return runtime, meta, why


__all__ = ["BACKENDS", "DEFAULT_ORDER", "load_backend", "choose_auto", "auto_choice", "ensure_bundle",
           "cached_bundle_dir", "ready_bundles", "quality_check", "conversion_lock", "record_fastest", "read_fastest",
           "unavailable_reason", "runnable_backends", "model_sha"]
