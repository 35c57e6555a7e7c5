"""safetensors writes whose failures (a full disk, a read-only folder) surface as the OSError they are."""

from __future__ import annotations

import os
import re
from pathlib import Path

# safetensors is Rust: an I/O failure arrives as SafetensorError("... (os error 28)"), not an OSError.
OS_ERROR_CODE = re.compile(r"os error (\d+)")


def save_tensors(tensors: dict, path: str | Path) -> None:
    """safetensors' save_file, raising OSError(errno, strerror, path) when the write itself fails."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    try:
        save_file(tensors, str(path))
    except SafetensorError as exc:
        found = OS_ERROR_CODE.search(str(exc))
        if found is None:
            raise
        code = int(found[1])
        raise OSError(code, os.strerror(code), str(path)) from None
