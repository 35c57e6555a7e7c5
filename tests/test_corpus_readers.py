"""Container readers (.rcc, .cat, zip as a stream) on small archives made here."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest

from t2a_edge.core.errors import T2AError
from t2a_edge.train.corpus.readers import iter_zip_stream, read_cat, read_rcc


def make_rcc(files: dict[str, tuple[bytes, bool]], version: int = 2) -> bytes:
    """A Qt resource archive: files maps 'dir/name' -> (payload, compressed)."""
    # Tree: root -> one directory per first path part -> files (one level is enough for the reader's recursion).
    dirs: dict[str, list[str]] = {}
    for path in files:
        folder, name = path.split("/", 1)
        dirs.setdefault(folder, []).append(name)
    names, name_offsets = bytearray(), {}

    def name_off(name: str) -> int:
        if name not in name_offsets:
            name_offsets[name] = len(names)
            names.extend(struct.pack(">HI", len(name), 0) + name.encode("utf-16-be"))
        return name_offsets[name]

    data, nodes = bytearray(), []
    node_tail = b"\0" * 8 if version >= 2 else b""
    folders = sorted(dirs)
    # index 0 root, 1..len(folders) directories, then files
    nodes.append(struct.pack(">IHII", 0, 0x02, len(folders), 1) + node_tail)
    next_child = 1 + len(folders)
    file_nodes = []
    for folder in folders:
        children = sorted(dirs[folder])
        nodes.append(struct.pack(">IHII", name_off(folder), 0x02, len(children), next_child) + node_tail)
        next_child += len(children)
        for child in children:
            payload, compressed = files[f"{folder}/{child}"]
            stored = struct.pack(">I", len(payload)) + zlib.compress(payload) if compressed else payload
            offset = len(data)
            data.extend(struct.pack(">I", len(stored)) + stored)
            flags = 0x01 if compressed else 0
            file_nodes.append(struct.pack(">IHHHI", name_off(child), flags, 0, 0, offset) + node_tail)
    tree = b"".join(nodes + file_nodes)
    header_size = 20 + (4 if version >= 3 else 0)
    tree_off = header_size
    data_off = tree_off + len(tree)
    names_off = data_off + len(data)
    header = b"qres" + struct.pack(">IIII", version, tree_off, data_off, names_off)
    if version >= 3:
        header += struct.pack(">I", 0)
    return header + tree + bytes(data) + bytes(names)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_rcc_reads_plain_and_compressed_files(version):
    files = {"sounds/dog.ogg": (b"OggS dog" * 50, True), "sounds/cat.wav": (b"RIFF cat", False),
             "images/x.svg": (b"<svg/>", False)}
    archive = make_rcc(files, version)
    got = dict(read_rcc(archive))
    assert got == {"images/x.svg": b"<svg/>", "sounds/cat.wav": b"RIFF cat", "sounds/dog.ogg": b"OggS dog" * 50}
    only_ogg = dict(read_rcc(archive, lambda p: p.endswith(".ogg")))
    assert list(only_ogg) == ["sounds/dog.ogg"]


def test_rcc_rejects_other_files():
    with pytest.raises(T2AError, match="not a Qt resource"):
        list(read_rcc(b"PK\x03\x04" + b"\0" * 40))
    with pytest.raises(T2AError, match="version"):
        list(read_rcc(b"qres" + struct.pack(">IIII", 9, 20, 20, 20)))


def make_cat(entries: list[tuple[str, bytes]]) -> bytes:
    """An OpenTTD .cat: (offset|bit31, size) table, then length-prefixed names and RIFF data."""
    table_size = 8 * len(entries)
    body, table = bytearray(), bytearray()
    for name, payload in entries:
        raw = name.encode("latin-1") + b"\0"
        entry = bytes([len(raw)]) + raw + payload
        table.extend(struct.pack("<II", (table_size + len(body)) | 0x80000000, len(entry)))
        body.extend(entry)
    return bytes(table) + bytes(body)


def riff(n: int) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, 11025, 22050, 2, 16)
    chunk = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", 2 * n) + b"\0" * 2 * n
    return b"RIFF" + struct.pack("<I", len(chunk)) + chunk


def test_cat_reads_names_and_wavs_and_skips_empty_slots():
    cat = make_cat([('"Ship horn". By X. License: Creative Commons Zero 1.0.', riff(10)),
                    ('"Unused/Nothing".', b""),
                    ('"Cow". License: Creative Commons Attribution 3.0.', riff(4) + b"trailing junk")])
    got = list(read_cat(cat))
    assert [(i, n.split(".")[0]) for i, n, _ in got] == [(0, '"Ship horn"'), (2, '"Cow"')]
    assert got[0][2] == riff(10)
    assert got[1][2] == riff(4)  # bytes after the RIFF chunk are not part of the sound


def test_cat_rejects_garbage():
    with pytest.raises(T2AError):
        list(read_cat(struct.pack("<II", 12345, 1)))


class OneWay(io.RawIOBase):
    """A forward-only stream handing out small chunks, like a pipe out of tar."""

    def __init__(self, data: bytes, chunk: int = 7):
        self.data, self.pos, self.chunk = data, 0, chunk

    def readable(self):
        return True

    def read(self, n=-1):
        n = self.chunk if n is None or n < 0 else min(n, self.chunk)
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out


def make_zip(streamed: bool) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(zipfile.ZipInfo("audio/rain.ogg"), b"rain" * 1000, compress_type=zipfile.ZIP_STORED)
        z.writestr(zipfile.ZipInfo("audio/wind.ogg"), b"wind" * 1000, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr(zipfile.ZipInfo("art/tree.png"), b"png" * 10, compress_type=zipfile.ZIP_DEFLATED)
    data = buffer.getvalue()
    if not streamed:
        return data
    # Rewrite as a zip written to a pipe: zipfile then sets flag bit 3 and puts sizes in descriptors.
    pipe = _Unseekable()
    with zipfile.ZipFile(pipe, "w") as z:
        for name, payload in (("audio/rain.ogg", b"rain" * 1000), ("audio/wind.ogg", b"wind" * 1000),
                              ("art/tree.png", b"png" * 10)):
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED  # stored entries cannot be written to a pipe
            with z.open(info, "w") as f:
                f.write(payload)
    return pipe.getvalue()


class _Unseekable(io.BytesIO):
    def seekable(self):
        return False

    def seek(self, *args):
        raise io.UnsupportedOperation("seek")

    def tell(self):
        raise io.UnsupportedOperation("tell")


@pytest.mark.parametrize("streamed", [False, True])
def test_zip_stream_yields_wanted_entries_only(streamed):
    data = make_zip(streamed)
    if streamed:
        assert struct.unpack("<H", data[6:8])[0] & 0x8, "test zip should use data descriptors"
    got = dict(iter_zip_stream(OneWay(data), lambda n: n.startswith("audio/")))
    assert got == {"audio/rain.ogg": b"rain" * 1000, "audio/wind.ogg": b"wind" * 1000}


def test_zip_stream_detects_corruption_and_non_zip():
    data = bytearray(make_zip(False))
    start = data.index(b"rainrain")
    data[start] ^= 0xFF  # flip a byte of the stored entry
    with pytest.raises(T2AError, match="CRC"):
        list(iter_zip_stream(OneWay(bytes(data))))
    with pytest.raises(T2AError, match="not a zip"):
        list(iter_zip_stream(io.BytesIO(b"hello world, not a zip")))
