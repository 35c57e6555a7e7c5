"""Walk one downloaded package and yield the audio files its rules take, opening containers on the way."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from t2a_edge.train.corpus import readers
from t2a_edge.train.corpus.apt import iter_deb_files
from t2a_edge.train.corpus.captions import noun_phrase
from t2a_edge.train.corpus.sources import Rule, Source, opensfx_rule, opensfx_title_and_license


@dataclass
class Found:
    """One audio file to process: where it came from, its bytes and the rule that took it."""

    source_path: str  # path in the package; "container!inner" for files inside a container
    data: bytes
    rule: Rule
    fields: dict[str, str] = field(default_factory=dict)
    license: str = ""  # set when the container itself names the license (OpenSFX)
    credit: str = ""


def copyright_path(package: str) -> str:
    """Where a Debian package keeps its copyright file."""
    return f"usr/share/doc/{package}/copyright"


def walk(source: Source, deb, copyright_out: dict) -> Iterator[Found]:
    """Yield every taken audio file of `deb`; the package's copyright text lands in copyright_out['text']."""
    members = re.compile(source.members)
    inner = re.compile(source.inner)
    doc = copyright_path(source.package)

    def want(path: str) -> bool:
        return path == doc or bool(members.search(path.lower()))

    stamps_text: dict[str, str] = {}
    stamps_audio: list[tuple[str, bytes, Rule, dict]] = []
    for path, handle in iter_deb_files(deb, want):
        if path == doc:
            copyright_out["text"] = handle.read().decode("utf-8", errors="replace")
            continue
        if source.kind == "zip":
            def take(name: str) -> bool:
                return bool(inner.search(name)) and source.match(name) is not None
            for name, data in readers.iter_zip_stream(handle, take):
                rule, fields = source.match(name)
                yield Found(f"{path}!{name}", data, rule, fields)
        elif source.kind == "rcc":
            def take(name: str) -> bool:
                return bool(inner.search(name.lower())) and source.match(name) is not None
            for name, data in readers.read_rcc(handle.read(), take):
                rule, fields = source.match(name)
                yield Found(f"{path}!{name.lstrip('/')}", data, rule, fields)
        elif source.kind == "cat":
            for index, name, wav in readers.read_cat(handle.read()):
                title, credit, license_name = opensfx_title_and_license(name)
                hit = opensfx_rule(index, title)
                if hit is not None:
                    yield Found(f"{path}!{index:02d}.wav", wav, hit[0], hit[1], license_name,
                                f'"{title}". {credit}'.strip())
        elif source.kind == "tuxpaint":
            stem, ext = posixpath.splitext(path)
            if ext == ".txt":
                stamps_text[stem] = handle.read().decode("utf-8", errors="replace")
            else:
                hit = source.match(path)
                if hit is not None:
                    stamps_audio.append((path, handle.read(), hit[0], hit[1]))
        else:
            hit = source.match(path)
            if hit is not None:
                yield Found(path, handle.read(), hit[0], hit[1])
    # Tuxpaint's caption file may come after its sound in the archive, so pair them at the end.
    for path, data, rule, fields in stamps_audio:
        text = stamps_text.get(posixpath.splitext(path)[0], "")
        first = text.splitlines()[0] if text.strip() else posixpath.basename(path).rsplit(".", 1)[0]
        yield Found(path, data, rule, dict(fields, name=noun_phrase(first)))
