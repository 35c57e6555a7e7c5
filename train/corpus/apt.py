"""Debian packages through apt: candidate versions, `apt-get download`, and streaming a .deb's files."""

from __future__ import annotations

import errno
import glob
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

from t2a_edge.core.errors import T2AError

INSTALL_HINT = "this needs a Debian or Ubuntu system with apt-get and dpkg-deb"


def require_tools() -> None:
    """Fail with one line when apt-get or dpkg-deb is missing."""
    missing = [tool for tool in ("apt-get", "apt-cache", "dpkg-deb") if shutil.which(tool) is None]
    if missing:
        raise T2AError(f"{', '.join(missing)} not found: {INSTALL_HINT}")


def _run(cmd: list[str], cwd: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, LC_ALL="C")  # parse apt's English output
    try:
        return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    except FileNotFoundError:
        raise T2AError(f"{cmd[0]} not found: {INSTALL_HINT}") from None


def candidate_version(package: str) -> str:
    """The version `apt-get download` would fetch, without downloading anything."""
    result = _run(["apt-cache", "policy", package])
    for line in result.stdout.splitlines():
        line = line.strip()
        if line.startswith("Candidate:"):
            version = line.split(":", 1)[1].strip()
            if version and version != "(none)":
                return version
    raise T2AError(f"apt does not know package '{package}': run `sudo apt-get update` "
                   "(with Debian's main archive enabled) and try again")


def deb_filename(package: str, version: str) -> str:
    """The file name `apt-get download` gives a package (':' in the version becomes '%3a')."""
    return f"{package}_{version.replace(':', '%3a')}_all.deb"


def find_deb(package: str, version: str, folder: str | os.PathLike) -> Path | None:
    """A previously downloaded .deb of exactly this version in `folder`, if any."""
    hits = sorted(glob.glob(os.path.join(glob.escape(str(folder)),
                                         glob.escape(deb_filename(package, version)[:-len("_all.deb")]) + "_*.deb")))
    return Path(hits[0]) if hits else None


def download(package: str, version: str, folder: str | os.PathLike) -> Path:
    """Run `apt-get download PKG=VERSION` into `folder` and return the .deb's path."""
    folder = Path(folder)
    if not os.access(folder, os.W_OK):
        raise T2AError(f"cannot write to {folder}: choose another --dest")
    result = _run(["apt-get", "download", f"{package}={version}"], cwd=str(folder))
    if result.returncode != 0:
        err = (result.stderr or result.stdout).strip().splitlines()
        detail = next((line for line in err if line.startswith("E:")), err[-1] if err else "failed")
        if "No space left on device" in detail:  # the CLI says so, with what to free, in one line
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder))
        if "Permission denied" in detail or "are you root" in detail:
            raise T2AError(f"apt-get download {package} failed ({detail}): "
                           f"run `sudo apt-get update && apt-get download {package}` or build as root")
        raise T2AError(f"apt-get download {package} failed ({detail}): run `sudo apt-get update` and retry")
    deb = find_deb(package, version, folder)
    if deb is None:
        raise T2AError(f"apt-get download {package} produced no .deb in {folder}")
    return deb


def iter_deb_files(deb: str | os.PathLike, want: Callable[[str], bool]) -> Iterator[tuple[str, object]]:
    """Yield (path, readable) for wanted regular files, streaming `dpkg-deb --fsys-tarfile`.

    Nothing is extracted to disk; each readable is valid only until the next item is requested.
    """
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                name = member.name[2:] if member.name.startswith("./") else member.name
                if member.isfile() and want(name):
                    yield name, tar.extractfile(member)
    except tarfile.TarError as exc:
        raise T2AError(f"cannot read {deb}: {exc}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
    if proc.returncode not in (0, -9) and err:
        raise T2AError(f"dpkg-deb could not read {deb}: {err.splitlines()[-1]}")
