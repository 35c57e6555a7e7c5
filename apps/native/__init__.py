"""The native ExecuTorch runner: the C++ program an app would embed, built against the pip runtime.

`runner.cpp` loads a `.pte` with ExecuTorch's C++ Module API (no Python) and serves its methods
over a pipe; `build_runner` compiles it once into the cache with CMake; `RunnerProcess` speaks its
frames; `NativeExecuTorchBackend` runs an ExecuTorch bundle through it under the shared sampling
loop, so `t2a-edge native check` can compare it with the pybindings on the same seed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from t2a_edge.core.errors import T2AError
from t2a_edge.runtimes.executorch_backend import ExecuTorchBackend, method_for

SOURCE_DIR = Path(__file__).parent
SOURCES = ("runner.cpp", "CMakeLists.txt")
RUNNER_NAME = "t2a_et_runner"
# ExecuTorch's ScalarType codes for the numpy dtypes the bundles use.
DTYPE_CODES = {np.dtype(np.float32): 6, np.dtype(np.int64): 4, np.dtype(np.int32): 3, np.dtype(np.bool_): 11}
CODE_DTYPES = {code: dtype for dtype, code in DTYPE_CODES.items()}


def executorch_root() -> Path:
    """The executorch pip package's folder, which holds the C++ runtime and its CMake package."""
    import importlib.util

    spec = importlib.util.find_spec("executorch")
    if spec is None or not spec.submodule_search_locations:
        raise T2AError("the native runner builds against ExecuTorch's C++ runtime: pip install executorch")
    return Path(list(spec.submodule_search_locations)[0])


def runner_key(root: Path) -> str:
    """The runner's cache key: its sources and the ExecuTorch build it links."""
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update((SOURCE_DIR / name).read_bytes())
    version = root / "share" / "cmake" / "executorch-config-version.cmake"
    digest.update(version.read_bytes() if version.is_file() else b"")
    digest.update(str(root.resolve()).encode())  # the binary records where the libraries are
    return digest.hexdigest()[:16]


def build_runner(progress=print) -> Path:
    """The runner binary, compiled once into the cache (CMake and a C++17 compiler needed)."""
    from t2a_edge.core.paths import cache_dir

    root = executorch_root()
    if not (root / "share" / "cmake" / "executorch-config.cmake").is_file():
        raise T2AError(f"{root} holds no CMake package for ExecuTorch's C++ runtime (executorch 1.5 or newer)")
    target = cache_dir() / "native" / runner_key(root) / RUNNER_NAME
    if target.is_file():
        return target
    missing = [tool for tool, names in (("cmake", ["cmake"]), ("a C++ compiler", ["c++", "g++", "clang++"]))
               if not any(shutil.which(n) for n in names)]
    if missing:
        raise T2AError(f"building the native runner needs {' and '.join(missing)} (e.g. apt-get install cmake g++)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=target.parent) as tmp:
        if progress:
            progress(f"building the native ExecuTorch runner into {target.parent}")
        steps = (["cmake", "-S", str(SOURCE_DIR), "-B", tmp, f"-DCMAKE_PREFIX_PATH={root}",
                  "-DCMAKE_BUILD_TYPE=Release"],
                 ["cmake", "--build", tmp, "--target", RUNNER_NAME])
        for step in steps:
            run = subprocess.run(step, capture_output=True, text=True)
            if run.returncode != 0:
                tail = (run.stderr or run.stdout).strip().splitlines()[-3:]
                raise T2AError(f"building the native runner failed at `{' '.join(step[:2])}`: {' / '.join(tail)}")
        os.replace(Path(tmp) / RUNNER_NAME, target)  # whole or not at all
    return target


class RunnerProcess:
    """One runner process serving one `.pte` program."""

    def __init__(self, runner: Path, program: Path):
        # Its threadpool takes every core, as the pybindings' does by default.
        self.process = subprocess.Popen([str(runner), str(program)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self.program = program
        try:
            self._reply()  # the runner loads every method first, then says whether it could
        except T2AError:
            self.close()
            raise

    def run(self, method: str, inputs: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
        """Outputs of one method call, and the seconds the C++ runtime spent in it."""
        frame = [struct.pack("<I", len(method)), method.encode(), struct.pack("<I", len(inputs))]
        for array in inputs:
            array = np.ascontiguousarray(array)
            if array.dtype not in DTYPE_CODES:
                raise T2AError(f"the native runner takes float32, int64, int32 or bool tensors, not {array.dtype}")
            frame += [struct.pack("<iI", DTYPE_CODES[array.dtype], array.ndim),
                      struct.pack(f"<{array.ndim}q", *array.shape), array.tobytes()]
        try:
            self.process.stdin.write(b"".join(frame))
            self.process.stdin.flush()
        except BrokenPipeError:
            raise T2AError(f"the native runner for {self.program} has exited") from None
        return self._reply()

    def _read(self, count: int) -> bytes:
        data = self.process.stdout.read(count)
        if len(data) != count:
            raise T2AError(f"the native runner for {self.program} stopped answering (exit code {self.process.poll()})")
        return data

    def _reply(self) -> tuple[list[np.ndarray], float]:
        if self._read(1) != b"\x00":
            (length,) = struct.unpack("<I", self._read(4))
            raise T2AError(f"native runner: {self._read(length).decode(errors='replace')}")
        (count,) = struct.unpack("<I", self._read(4))
        outputs = []
        for _ in range(count):
            code, rank = struct.unpack("<iI", self._read(8))
            shape = struct.unpack(f"<{rank}q", self._read(8 * rank))
            dtype = CODE_DTYPES.get(code)
            if dtype is None:
                raise T2AError(f"native runner: an output has ExecuTorch dtype {code}, which this client does not read")
            size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            outputs.append(np.frombuffer(self._read(size), dtype).reshape(shape).copy())
        (micros,) = struct.unpack("<d", self._read(8))
        return outputs, micros / 1e6

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class NativeExecuTorchBackend(ExecuTorchBackend):
    """An ExecuTorch bundle run by the native runner instead of the pybindings; the same methods."""

    def __init__(self, folder: str | Path, runner: Path, threads: int | None = None):
        self.runner = runner
        self.native_seconds: dict[str, float] = {}  # per component, summed over calls
        super().__init__(folder, threads)
        self.name = "executorch (native)"

    def _open(self, component: str, path: Path):
        return RunnerProcess(self.runner, path), tuple(self.manifest["components"][component]["inputs"])

    def _run(self, component: str, session, inputs: dict[str, np.ndarray]) -> np.ndarray:
        process, names = session
        outputs, seconds = process.run(method_for(inputs), [inputs[n] for n in names])
        self.native_seconds[component] = self.native_seconds.get(component, 0.0) + seconds
        return outputs[0]

    def close(self) -> None:
        for process, _ in self.sessions.values():
            process.close()
