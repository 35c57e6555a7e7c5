"""Where t2a-edge keeps caches, corpora, bundles and models on the user's machine."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from t2a_edge.core.errors import T2AError


def cache_dir() -> Path:
    """Root of everything t2a-edge caches: $T2A_EDGE_CACHE, else $XDG_CACHE_HOME/t2a-edge."""
    root = os.environ.get("T2A_EDGE_CACHE")
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "t2a-edge"


def corpus_dir() -> Path:
    """Default folder of the built sound-effects corpus."""
    return cache_dir() / "corpus"


def judge_dir() -> Path:
    """Folder holding the YAMNet judge files and the feature cache."""
    return cache_dir() / "judge"


def bundles_dir() -> Path:
    """Folder of converted runtime bundles, one sub-folder per model, backend and precision."""
    return cache_dir() / "bundles"


def default_model_dir() -> Path:
    """The trained default model shipped inside the package."""
    return Path(__file__).resolve().parent / "default_model"


def refuse_to_replace(path: Path, marker: str, what: str, force: bool) -> None:
    """Allow writing `path` (a folder) only if it is new or empty, or, with force, one of ours (it holds
    `marker`): --force must never delete a folder of the user's own that was named by mistake."""
    path = Path(path)
    if not path.exists() or path.is_dir() and not any(path.iterdir()):
        return
    if not path.is_dir():
        raise T2AError(f"{path} is a file: give a folder name")
    if not force:
        raise T2AError(f"{path} already exists: pass --force to replace it")
    if not (path / marker).is_file():
        raise T2AError(f"{path} is not a t2a-edge {what} (no {marker}): --force replaces only a {what}, "
                       "choose another folder")


def check_output_file(path: str | os.PathLike, force: bool, flag: str = "") -> Path:
    """Refuse, in one line, to write the file `path` where that would replace a file unasked or cannot
    work (no folder, no permission); `flag` names the option that gave it."""
    path = Path(path)
    named = f"{flag} {path}" if flag else str(path)
    if path.is_dir():
        raise T2AError(f"{named} is a folder: give a file name")
    if path.exists() and not force:
        raise T2AError(f"{named} already exists: pass --force to overwrite it")
    if not path.parent.is_dir():
        raise T2AError(f"{flag + ': ' if flag else ''}output folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise T2AError(f"cannot write to {path.parent}: permission denied")
    # os.access says yes to root everywhere, and to folders that take no new files (/proc, a
    # read-only mount): create and remove an empty file there, so the refusal comes before the work.
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
    except OSError as exc:
        raise T2AError(f"cannot write {named}: {(exc.strerror or str(exc)).lower()} (in {path.parent})") from None
    os.close(fd)
    os.unlink(probe)
    return path


# A full disk, a quota, a read-only or forbidden path: the CLI names them with advice (apps.cli.MACHINE_ERRORS).
MACHINE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)


def write_error(path: str | os.PathLike, exc: OSError) -> Exception:
    """What a failed write of `path` raises: the OSError itself, renamed to `path` (not a temporary
    file beside it), for the machine failures the CLI explains; one T2AError line for any other."""
    if exc.errno in MACHINE_ERRNOS:
        return OSError(exc.errno, exc.strerror, str(path))
    return T2AError(f"cannot write {path}: {(exc.strerror or str(exc)).lower()}")
