"""The wheel maps each top-level folder into t2a_edge and installs without the source tree."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_non_editable_wheel_installs_and_imports(tmp_path):
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("t2a_edge-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("core/model.py", "train/loop.py", "runtimes/sampler.py", "apps/cli.py", "convert/__init__.py",
                   "apps/native/runner.cpp", "apps/native/CMakeLists.txt"):
        assert f"t2a_edge/{module}" in names
    assert not [n for n in names if n.split("/")[0] in ("core", "train", "convert", "runtimes", "apps", "tests")]
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                              str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-2000:]
    probe = subprocess.run([sys.executable, "-c", "import t2a_edge.core.config as c, t2a_edge; "
                            "print(c.__file__); print(t2a_edge.TextToAudio.__name__)"],
                           capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(target)})
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.splitlines()[0].startswith(str(target))
    assert (target / "bin" / "t2a-edge").is_file()
