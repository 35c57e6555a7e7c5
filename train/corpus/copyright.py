"""Read a Debian machine-readable copyright file (DEP-5) to find the license of one packaged file."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass


@dataclass
class Stanza:
    """One `Files:` paragraph: its glob patterns, copyright holders and license name."""

    patterns: list[str]
    copyright: str
    license: str


def parse(text: str) -> list[Stanza]:
    """The `Files:` stanzas of a DEP-5 file, in order (a non-DEP-5 file gives none)."""
    stanzas = []
    for paragraph in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in paragraph.split("\n"):
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if "files" in fields and "license" in fields:
            license_name = fields["license"].split("\n", 1)[0].strip()
            stanzas.append(Stanza(fields["files"].split(), fields.get("copyright", "").strip(), license_name))
    return stanzas


def license_of(stanzas: list[Stanza], path: str, default: str = "") -> tuple[str, str]:
    """(license, copyright) for `path`; the last matching stanza wins, as DEP-5 specifies.

    Packaged paths (usr/share/games/x/...) rarely match upstream patterns literally, so each
    trailing part of the path is tried too.
    """
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[i:]) for i in range(len(parts))]
    best = None
    for stanza in stanzas:
        for pattern in stanza.patterns:
            if pattern == "*" or any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
                best = stanza
                break
    if best is None or not best.license:
        return default, ""
    return best.license, best.copyright
