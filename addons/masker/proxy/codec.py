"""Content-encoding for Masker: bounded whole-body decoding and incremental
decoding of streamed responses (mitmproxy does not decode streamed bodies).

Bounded: a small compressed body must not expand into gigabytes in memory.
"""

from __future__ import annotations

import zlib

import brotli
import zstandard

ENCODINGS = ("identity", "gzip", "x-gzip", "deflate", "br", "zstd")
_PIECE = 4096


class BodyTooLarge(ValueError):
    pass


class StreamDecoder:
    """Feed encoded bytes, get decoded bytes; raises ValueError on corrupt input."""

    def __init__(self, encoding: str) -> None:
        enc = (encoding or "identity").strip().lower()
        if enc not in ENCODINGS:
            raise ValueError(f"unsupported content-encoding {enc!r}")
        self.encoding = enc
        if enc in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._z = zlib.decompressobj()
        elif enc == "br":
            self._br = brotli.Decompressor()
        elif enc == "zstd":
            self._zs = zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> bytes:
        try:
            if self.encoding == "identity":
                return data
            if self.encoding == "br":
                return self._br.process(data)
            if self.encoding == "zstd":
                return self._zs.decompress(data)
            return self._z.decompress(data)
        except (zlib.error, brotli.error, zstandard.ZstdError) as e:
            raise ValueError(f"corrupt {self.encoding} data") from e

    def finish(self) -> bytes:
        if self.encoding in ("gzip", "x-gzip", "deflate"):
            out = self._z.flush()
            if not self._z.eof:
                raise ValueError(f"truncated {self.encoding} data")
            return out
        if self.encoding == "br" and not self._br.is_finished():
            raise ValueError("truncated br data")
        return b""


def decode_bounded(raw: bytes, encoding: str | None, limit: int) -> bytes:
    """Decode a whole body; BodyTooLarge once the output exceeds ``limit``.

    Input is fed in small pieces so at most one piece's expansion is held
    beyond the limit.
    """
    dec = StreamDecoder(encoding or "identity")
    if dec.encoding == "identity":
        if len(raw) > limit:
            raise BodyTooLarge(len(raw))
        return raw
    out = bytearray()
    for i in range(0, len(raw), _PIECE):
        out += dec.feed(raw[i : i + _PIECE])
        if len(out) > limit:
            raise BodyTooLarge(len(out))
    out += dec.finish()
    if len(out) > limit:
        raise BodyTooLarge(len(out))
    return bytes(out)
