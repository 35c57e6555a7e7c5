"""Readers for the containers that hold packaged sounds: Qt .rcc, OpenTTD .cat, and zip as a stream."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator

from t2a_edge.core.errors import T2AError

# --- Qt resource (.rcc) -------------------------------------------------------------------

RCC_MAGIC = b"qres"
RCC_COMPRESSED = 0x01
RCC_DIRECTORY = 0x02
RCC_COMPRESSED_ZSTD = 0x04


def read_rcc(data: bytes, want: Callable[[str], bool] = lambda name: True) -> Iterator[tuple[str, bytes]]:
    """Yield (path, payload) for each file in a Qt .rcc archive (format versions 1-3)."""
    if len(data) < 20 or data[:4] != RCC_MAGIC:
        raise T2AError("not a Qt resource file (missing 'qres' header)")
    version, tree_off, data_off, names_off = struct.unpack(">IIII", data[4:20])
    if version not in (1, 2, 3):
        raise T2AError(f"unsupported Qt resource version {version}")
    # Version 2 added an 8-byte modification time to every tree node.
    node_size = 14 if version == 1 else 22

    def name_at(offset: int) -> str:
        pos = names_off + offset
        (length,) = struct.unpack(">H", data[pos:pos + 2])
        return data[pos + 6:pos + 6 + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str, depth: int) -> Iterator[tuple[str, bytes]]:
        if depth > 64:  # a corrupt tree could point back at itself
            raise T2AError("Qt resource tree is too deep (corrupt file?)")
        pos = tree_off + index * node_size
        name_off, flags = struct.unpack(">IH", data[pos:pos + 6])
        name = name_at(name_off) if index else ""
        path = f"{prefix}/{name}" if prefix else name
        if flags & RCC_DIRECTORY:
            count, first = struct.unpack(">II", data[pos + 6:pos + 14])
            for child in range(first, first + count):
                yield from walk(child, path, depth + 1)
            return
        if not want(path):
            return
        (payload_off,) = struct.unpack(">I", data[pos + 10:pos + 14])
        start = data_off + payload_off
        (size,) = struct.unpack(">I", data[start:start + 4])
        payload = data[start + 4:start + 4 + size]
        if flags & RCC_COMPRESSED_ZSTD:
            raise T2AError(f"{path}: zstd-compressed Qt resources are not supported")
        if flags & RCC_COMPRESSED:
            # qCompress format: 4-byte big-endian uncompressed length, then a zlib stream.
            payload = zlib.decompress(payload[4:])
        yield path, payload

    try:
        yield from walk(0, "", 0)
    except (struct.error, zlib.error, UnicodeDecodeError) as exc:
        raise T2AError(f"corrupt Qt resource file ({exc})") from None


# --- OpenTTD sound catalogue (.cat) ---------------------------------------------------------

def read_cat(data: bytes) -> Iterator[tuple[int, str, bytes]]:
    """Yield (index, name, wav_bytes) for each sound of an OpenTTD .cat file (e.g. OpenSFX); empty slots are skipped."""
    if len(data) < 8:
        raise T2AError("sound catalogue too short")
    (first,) = struct.unpack("<I", data[:4])
    # The first entry's offset doubles as the table size; bit 31 flags the newer format.
    table_size = first & 0x7FFFFFFF
    if table_size % 8 or table_size > len(data):
        raise T2AError("not an OpenTTD sound catalogue (bad table size)")
    for index in range(table_size // 8):
        offset, size = struct.unpack("<II", data[index * 8:index * 8 + 8])
        offset &= 0x7FFFFFFF
        if offset + size > len(data) or size < 1:
            raise T2AError(f"sound catalogue entry {index} points outside the file")
        entry = data[offset:offset + size]
        name_len = entry[0]
        name = entry[1:1 + name_len].rstrip(b"\0").decode("latin-1")
        wav = entry[1 + name_len:]
        if wav[:4] != b"RIFF":
            continue  # OpenSFX keeps placeholder slots ("Unused/Nothing") with no sound
        (riff_size,) = struct.unpack("<I", wav[4:8])
        yield index, name, wav[:riff_size + 8]


# --- zip read as a stream (local headers) -------------------------------------------------

ZIP_LOCAL = b"PK\x03\x04"
ZIP_CENTRAL = b"PK\x01\x02"
ZIP_END = b"PK\x05\x06"
ZIP_DESCRIPTOR = b"PK\x07\x08"


def _read_exact(stream, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            raise T2AError("zip stream ended in the middle of an entry")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _skip(stream, n: int) -> None:
    while n:
        chunk = stream.read(min(n, 1 << 20))
        if not chunk:
            raise T2AError("zip stream ended in the middle of an entry")
        n -= len(chunk)


class _Pushback:
    """A read-only stream that can put bytes back (a deflate stream overshoots its end)."""

    def __init__(self, stream):
        self.stream, self.buffer = stream, b""

    def read(self, n: int) -> bytes:
        if self.buffer:
            out, self.buffer = self.buffer[:n], self.buffer[n:]
            return out
        return self.stream.read(n)

    def unread(self, data: bytes) -> None:
        self.buffer = data + self.buffer


def iter_zip_stream(stream, want: Callable[[str], bool] = lambda name: True) -> Iterator[tuple[str, bytes]]:
    """Yield (name, data) of wanted zip entries reading forward only, so the zip never hits disk."""
    stream = _Pushback(stream)
    while True:
        signature = stream.read(4)
        if len(signature) < 4 or signature in (ZIP_CENTRAL, ZIP_END):
            return  # the central directory repeats what we have already read
        if signature != ZIP_LOCAL:
            raise T2AError("not a zip stream (bad local header signature)")
        (_, flags, method, _, _, crc, csize, usize, name_len, extra_len) = struct.unpack(
            "<HHHHHIIIHH", _read_exact(stream, 26))
        name = _read_exact(stream, name_len).decode("utf-8" if flags & 0x800 else "cp437")
        extra = _read_exact(stream, extra_len)
        if csize == 0xFFFFFFFF or usize == 0xFFFFFFFF:
            csize, usize = _zip64_sizes(extra, csize, usize)
        if flags & 0x1:
            raise T2AError(f"zip entry {name} is encrypted")
        streamed = bool(flags & 0x8)  # sizes follow the data in a descriptor
        if method not in (0, 8):
            raise T2AError(f"zip entry {name}: unsupported compression method {method}")
        if streamed and method == 0:
            raise T2AError(f"zip entry {name}: stored entry without sizes cannot be streamed")
        wanted = want(name)
        if not streamed and not wanted:
            _skip(stream, csize)
            continue
        if method == 0:
            payload = _read_exact(stream, csize)
        else:
            payload = _inflate(stream, None if streamed else csize, name)
        if streamed:
            crc, csize, usize = _read_descriptor(stream)
        if zlib.crc32(payload) != crc:
            raise T2AError(f"zip entry {name}: CRC mismatch (corrupt archive)")
        if wanted:
            yield name, payload


def _zip64_sizes(extra: bytes, csize: int, usize: int) -> tuple[int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack("<HH", extra[pos:pos + 4])
        if tag == 0x0001:
            fields = extra[pos + 4:pos + 4 + size]
            values = list(struct.unpack(f"<{len(fields) // 8}Q", fields[:len(fields) // 8 * 8]))
            if usize == 0xFFFFFFFF and values:
                usize = values.pop(0)
            if csize == 0xFFFFFFFF and values:
                csize = values.pop(0)
            return csize, usize
        pos += 4 + size
    raise T2AError("zip64 entry without its size field")


def _inflate(stream: _Pushback, csize: int | None, name: str) -> bytes:
    decomp = zlib.decompressobj(-15)
    out, left = [], csize
    try:
        while not decomp.eof:
            chunk = stream.read(1 << 16 if left is None else min(left, 1 << 16))
            if not chunk:
                raise T2AError(f"zip entry {name}: truncated deflate data")
            if left is not None:
                left -= len(chunk)
            out.append(decomp.decompress(chunk))
    except zlib.error as exc:
        raise T2AError(f"zip entry {name}: corrupt deflate data ({exc})") from None
    if decomp.unused_data:
        stream.unread(decomp.unused_data)
    if left:
        _skip(stream, left)
    return b"".join(out)


def _read_descriptor(stream: _Pushback) -> tuple[int, int, int]:
    head = _read_exact(stream, 4)
    if head == ZIP_DESCRIPTOR:
        head = _read_exact(stream, 4)
    rest = _read_exact(stream, 8)
    crc = struct.unpack("<I", head)[0]
    csize, usize = struct.unpack("<II", rest)
    return crc, csize, usize
