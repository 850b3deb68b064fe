"""Content-encoding for Masker: bounded whole-body decoding and incremental
decoding of streamed responses (mitmproxy does not decode streamed bodies).

Bounded by construction: every decompression step produces at most about
one ``piece`` of output (zlib ``max_length`` with ``unconsumed_tail``,
brotli ``output_buffer_limit`` with ``can_accept_more_data``, zstd fed in
tiny input steps), so a 1.6 KB body that expands to 1 GB never holds more
than a piece beyond the limit in memory, and ``BodyTooLarge`` is raised as
soon as the decoded size passes the limit. Nothing is ever truncated
silently: corrupt, truncated or trailing data raises ``ValueError``.

Stacked encodings (``Content-Encoding: gzip, br``: gzip applied first, then
br) are decoded layer by layer, each layer under the same bound; at most
``MAX_LAYERS`` codings, more is refused (``ValueError``). Multi-member gzip
and multi-frame zstd are decoded whole, as RFC 1952 / RFC 8878 allow.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import brotli
import zstandard

ENCODINGS = ("identity", "gzip", "x-gzip", "deflate", "br", "zstd")
MAX_LAYERS = 3  # codings in one Content-Encoding header (identity not counted)
PIECE = 64 * 1024  # most output one decompression step yields (brotli may overshoot by one internal block)
FEED_LIMIT = 16 * 1024 * 1024  # default cap on what one StreamDecoder.feed call may return
# zstd has no output cap per call: it is fed this many input bytes at a time.
# One input byte can finish at most one block (<= 128 KiB out; a block takes
# >= 4 bytes), so a step yields at most ~16 blocks = 2 MiB.
ZSTD_STEP = 64
ZSTD_MAX_WINDOW = 8 * 1024 * 1024  # RFC 9659: the zstd content coding's window is at most 8 MB
_IN_PIECE = 16 * 1024  # identity and zlib input is handed over in pieces this big
_BROTLI_BOUNDED = hasattr(brotli.Decompressor, "can_accept_more_data")  # output_buffer_limit came with 1.2


class BodyTooLarge(ValueError):
    pass


class _Zlib:
    """gzip (RFC 1952, several members allowed) or deflate (zlib-wrapped, or raw as some servers send)."""

    def __init__(self, encoding: str) -> None:
        self.gzip = encoding in ("gzip", "x-gzip")
        self.name = encoding
        self._z: zlib._Decompress | None = None
        self._head = b""  # deflate: first bytes, until zlib vs raw can be told apart
        self._members = 0

    def _start(self, data: bytes) -> bytes:
        """A decompressor for the stream starting at ``data``; returns what it should consume."""
        if self.gzip:
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            return data
        data = self._head + data
        if len(data) < 2:
            self._head = data
            return b""
        self._head = b""
        cmf, flg = data[0], data[1]
        wrapped = cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0
        self._z = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return data

    def pieces(self, data: bytes, piece: int) -> Iterator[bytes]:
        while data:
            if self._z is None:
                data = self._start(data)
                if not data:
                    return
            elif self._z.eof:
                if not self.gzip:
                    raise ValueError(f"data after the end of the {self.name} stream")
                self._z = None  # another gzip member
                continue
            z = self._z
            assert z is not None  # _start set it: it returned data to consume
            out = z.decompress(data, piece)
            if out:
                yield out
            if z.eof:
                self._members += 1
                data = z.unused_data
            elif z.unconsumed_tail:
                data = z.unconsumed_tail
            elif len(out) == piece:
                data = b""
                # input all taken but the output buffer was full: more may be pending
                while len(out) == piece and not z.eof:
                    out = z.decompress(b"", piece)
                    if out:
                        yield out
                if z.eof and z.unused_data:
                    data = z.unused_data
            else:
                return

    def finish(self, piece: int) -> Iterator[bytes]:
        if self._z is None:
            if self._head or not self._members:
                raise ValueError(f"truncated {self.name} data")
            return
        out = self._z.flush()  # bounded: what is left fits zlib's 32 KiB window
        if out:
            yield out
        if not self._z.eof:
            raise ValueError(f"truncated {self.name} data")


class _Brotli:
    name = "br"

    def __init__(self) -> None:
        if not _BROTLI_BOUNDED:
            raise ValueError("br needs brotli >= 1.2 (bounded output)")
        self._d = brotli.Decompressor()

    def pieces(self, data: bytes, piece: int) -> Iterator[bytes]:
        if not data:
            return
        if self._d.is_finished():
            raise ValueError("data after the end of the br stream")
        out = self._d.process(data, output_buffer_limit=piece)
        if out:
            yield out
        # Input left over (can_accept_more_data() False) or a full output
        # buffer (output still pending inside the decoder): ask for more.
        while len(out) >= piece or not self._d.can_accept_more_data():
            out = self._d.process(b"", output_buffer_limit=piece)
            if not out:
                if not self._d.can_accept_more_data():  # pragma: no cover - no progress
                    raise ValueError("br decoder made no progress")
                return
            yield out

    def finish(self, piece: int) -> Iterator[bytes]:
        if not self._d.is_finished():
            raise ValueError("truncated br data")
        yield from ()


class _Zstd:
    """zstd (RFC 8878), one frame after another."""

    name = "zstd"

    def __init__(self) -> None:
        self._dctx = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        self._z = self._dctx.decompressobj()
        self._seen = False

    def pieces(self, data: bytes, piece: int) -> Iterator[bytes]:
        for i in range(0, len(data), ZSTD_STEP):
            step = data[i : i + ZSTD_STEP]
            self._seen = True
            while step:
                if self._z.eof:
                    self._z = self._dctx.decompressobj()  # the next frame
                out = self._z.decompress(step)
                for j in range(0, len(out), piece):
                    yield out[j : j + piece]
                step = self._z.unused_data if self._z.eof else b""

    def finish(self, piece: int) -> Iterator[bytes]:
        if not self._seen or not self._z.eof:
            raise ValueError("truncated zstd data")
        yield from ()


def parse_encoding(encoding: str | None) -> list[str]:
    """The codings of a Content-Encoding value, in the order they were applied
    (identity and empty entries dropped); ValueError when unsupported."""
    codings = [c.strip().lower() for c in (encoding or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    for c in codings:
        if c not in ENCODINGS:
            raise ValueError(f"unsupported content-encoding {c!r}")
    if len(codings) > MAX_LAYERS:
        raise ValueError(f"more than {MAX_LAYERS} stacked content-encodings")
    return codings


def _layer(coding: str) -> _Zlib | _Brotli | _Zstd:
    if coding == "br":
        return _Brotli()
    if coding == "zstd":
        return _Zstd()
    return _Zlib(coding)


class StreamDecoder:
    """Feed encoded bytes, get decoded bytes; ValueError on corrupt input.

    ``limit``: most decoded bytes in total (None: no total limit), passing it
    raises ``BodyTooLarge``. ``pieces(data)`` yields the output of ``data``
    in pieces of about ``piece`` bytes, produced one at a time: a consumer
    that does not keep them holds one piece at a time, whatever the
    compression ratio. ``feed(data)`` returns them joined and raises
    ``BodyTooLarge`` once one call would return more than ``feed_limit``.
    """

    def __init__(
        self, encoding: str | None, *, limit: int | None = None, piece: int = PIECE, feed_limit: int = FEED_LIMIT
    ) -> None:
        codings = parse_encoding(encoding)
        self.encoding = ", ".join(codings) or "identity"
        self.limit = limit
        self.piece = piece
        self.feed_limit = feed_limit
        self.decoded = 0  # bytes produced so far
        self._layers = [_layer(c) for c in reversed(codings)]  # the last coding applied is undone first

    def _through(self, i: int, data: bytes) -> Iterator[bytes]:
        if i == len(self._layers):
            yield from self._count(data)
            return
        for part in self._layers[i].pieces(data, self.piece):
            yield from self._through(i + 1, part)

    def _count(self, data: bytes) -> Iterator[bytes]:
        if not self._layers:  # identity: no expansion, only pieces
            for j in range(0, len(data), self.piece):
                yield from self._count_one(data[j : j + self.piece])
        elif data:
            yield from self._count_one(data)

    def _count_one(self, part: bytes) -> Iterator[bytes]:
        self.decoded += len(part)
        if self.limit is not None and self.decoded > self.limit:
            raise BodyTooLarge(self.decoded)
        yield part

    def pieces(self, data: bytes) -> Iterator[bytes]:
        try:
            yield from self._through(0, data)
        except (zlib.error, brotli.error, zstandard.ZstdError) as e:
            raise ValueError(f"corrupt {self.encoding} data") from e

    def finish_pieces(self) -> Iterator[bytes]:
        """End of the body: what is still held, then ValueError if the data was truncated."""
        try:
            for i, layer in enumerate(self._layers):
                for part in layer.finish(self.piece):
                    yield from self._through(i + 1, part)
        except (zlib.error, brotli.error, zstandard.ZstdError) as e:
            raise ValueError(f"corrupt {self.encoding} data") from e

    def feed(self, data: bytes) -> bytes:
        return self._join(self.pieces(data))

    def finish(self) -> bytes:
        return self._join(self.finish_pieces())

    def _join(self, parts: Iterator[bytes]) -> bytes:
        out = bytearray()
        for part in parts:
            out += part
            if len(out) > self.feed_limit:
                raise BodyTooLarge(len(out))
        return bytes(out)


def decode_bounded(raw: bytes, encoding: str | None, limit: int) -> bytes:
    """Decode a whole body; BodyTooLarge once the output exceeds ``limit``.

    At most one decompression piece is ever held beyond ``limit``.
    """
    dec = StreamDecoder(encoding, limit=limit)
    if not dec._layers:
        if len(raw) > limit:
            raise BodyTooLarge(len(raw))
        return raw
    out = bytearray()
    view = memoryview(raw)
    for i in range(0, len(view), _IN_PIECE):
        for part in dec.pieces(bytes(view[i : i + _IN_PIECE])):
            out += part
    for part in dec.finish_pieces():
        out += part
    return bytes(out)
