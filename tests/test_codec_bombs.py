"""Decompression bombs: ~1 GiB of zeros as gzip, deflate, br and zstd.

Each decode runs in a fresh interpreter that reports its peak RSS before
and after: the growth must stay under 64 MiB, and the limit must be
reported as ``BodyTooLarge``, never as a truncated body. The peak is read
from ``VmHWM`` (/proc/self/status) as well as ``ru_maxrss``: on Linux
``ru_maxrss`` keeps the parent's (pytest's) peak across fork and exec, which
would hide the child's growth below it.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import brotli
import pytest
import zstandard

from masker.proxy.codec import PIECE, BodyTooLarge, StreamDecoder, decode_bounded, parse_encoding

ROOT = Path(__file__).resolve().parents[1]
GIB = 1 << 30
MIB = 1 << 20
RSS_BUDGET = 64 * MIB


def _deflate_zeros(total: int, *, gzip_wrap: bool) -> bytes:
    """``total`` zero bytes as one gzip member / zlib stream, built without compressing them all:
    after a full flush, the raw deflate of 1 MiB of zeros is the same bytes every time."""
    mib = bytes(MIB)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = co.compress(mib) + co.flush(zlib.Z_FULL_FLUSH)
    middle = co.compress(mib) + co.flush(zlib.Z_FULL_FLUSH)
    last = co.compress(mib) + co.flush()
    n = total // MIB
    raw = first + middle * (n - 2) + last
    crc, adler = 0, 1
    for _ in range(n):
        crc, adler = zlib.crc32(mib, crc), zlib.adler32(mib, adler)
    if gzip_wrap:
        return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + raw + struct.pack("<II", crc, total & 0xFFFFFFFF)
    return b"\x78\xda" + raw + struct.pack(">I", adler)


@functools.lru_cache(maxsize=None)
def bomb(encoding: str, total: int = GIB) -> bytes:
    if encoding == "gzip":
        return _deflate_zeros(total, gzip_wrap=True)
    if encoding == "deflate":
        return _deflate_zeros(total, gzip_wrap=False)
    chunk = bytes(16 * MIB)
    if encoding == "br":  # the largest window HTTP allows (16 MiB): the worst case for the decoder's memory
        c = brotli.Compressor(quality=3, lgwin=24)
        return b"".join([c.process(chunk) for _ in range(total // len(chunk))] + [c.finish()])
    if encoding == "zstd":
        co = zstandard.ZstdCompressor(level=3).compressobj()
        return b"".join([co.compress(chunk) for _ in range(total // len(chunk))] + [co.flush()])
    raise ValueError(encoding)


ENCODINGS = ("gzip", "deflate", "br", "zstd")

CHILD = r"""
import json, resource, sys
from masker.proxy.codec import BodyTooLarge, StreamDecoder, decode_bounded

def hwm_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

path, encoding, mode, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
raw = open(path, "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
hwm_before = hwm_kib()
result = {"raised": None, "decoded": 0, "largest_piece": 0}
try:
    if mode == "whole":
        decode_bounded(raw, encoding, limit)
    elif mode == "pieces":  # a streamed response: pieces consumed one by one, nothing kept
        d = StreamDecoder(encoding, limit=limit)
        for i in range(0, len(raw), 16384):
            for p in d.pieces(raw[i:i + 16384]):
                result["decoded"] += len(p)
                result["largest_piece"] = max(result["largest_piece"], len(p))
        for p in d.finish_pieces():
            result["decoded"] += len(p)
    elif mode == "feed":  # one upstream chunk must not decode to more than feed_limit
        d = StreamDecoder(encoding, feed_limit=limit)
        for i in range(0, len(raw), 16384):
            result["decoded"] += len(d.feed(raw[i:i + 16384]))
except BodyTooLarge:
    result["raised"] = "BodyTooLarge"
except Exception as e:
    result["raised"] = type(e).__name__
result["maxrss_growth_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
result["growth_kib"] = hwm_kib() - hwm_before
result["hwm_kib"] = hwm_kib()
print(json.dumps(result))
"""


def _child(tmp_path: Path, encoding: str, mode: str, limit: int) -> dict:
    path = tmp_path / f"bomb.{encoding}"
    path.write_bytes(bomb(encoding))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "addons")}
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), encoding, mode, str(limit)],
                         capture_output=True, text=True, env=env, timeout=240, check=True)
    return json.loads(out.stdout)


def test_bombs_are_bombs():
    for enc in ENCODINGS:
        assert len(bomb(enc)) < 1_100_000, enc  # >= ~1000:1
    assert zlib.decompressobj(31).decompress(bomb("gzip"), 1000) == bytes(1000)
    assert len(bomb("br")) < 2000  # the 1.6 KB brotli body that once took the proxy to 2.2 GB


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_whole_body_bomb_stays_within_memory_budget(tmp_path, encoding):
    r = _child(tmp_path, encoding, "whole", 16 * MIB)  # masker_max_body's default
    assert r["raised"] == "BodyTooLarge"
    assert r["growth_kib"] * 1024 < RSS_BUDGET and r["maxrss_growth_kib"] * 1024 < RSS_BUDGET, r


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_streamed_bomb_is_decoded_in_bounded_pieces(tmp_path, encoding):
    """Far more than the budget is decoded (256 MiB), yet memory does not grow with it."""
    r = _child(tmp_path, encoding, "pieces", 256 * MIB)
    assert r["raised"] == "BodyTooLarge"
    assert r["decoded"] >= 256 * MIB - 2 * PIECE
    assert r["largest_piece"] <= 2 * PIECE, r  # brotli may pass its cap by one internal block
    assert r["growth_kib"] * 1024 < RSS_BUDGET and r["maxrss_growth_kib"] * 1024 < RSS_BUDGET, r


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_one_chunk_cannot_decode_past_the_feed_limit(tmp_path, encoding):
    r = _child(tmp_path, encoding, "feed", 8 * MIB)
    assert r["raised"] == "BodyTooLarge"
    assert r["growth_kib"] * 1024 < RSS_BUDGET and r["maxrss_growth_kib"] * 1024 < RSS_BUDGET, r


# -- in-process behaviour (small inputs) -----------------------------------


DATA = os.urandom(50_000).hex().encode()


def _encode(coding: str, data: bytes) -> bytes:
    return {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress,
            "zstd": zstandard.ZstdCompressor().compress}[coding](data)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_roundtrip_any_chunking(encoding):
    raw = _encode(encoding, DATA)
    assert decode_bounded(raw, encoding, len(DATA)) == DATA
    with pytest.raises(BodyTooLarge):
        decode_bounded(raw, encoding, len(DATA) - 1)
    for size in (1, 13, 4096):
        d = StreamDecoder(encoding)
        assert b"".join(d.feed(raw[i : i + size]) for i in range(0, len(raw), size)) + d.finish() == DATA


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_truncated_or_trailing_data_is_an_error_not_a_short_body(encoding):
    raw = _encode(encoding, DATA)
    with pytest.raises(ValueError) as e:
        decode_bounded(raw[:-7], encoding, 10 * len(DATA))
    assert not isinstance(e.value, BodyTooLarge)
    with pytest.raises(ValueError):
        decode_bounded(raw + b"\x00junk", encoding, 10 * len(DATA))


def test_raw_deflate_multi_member_gzip_and_multi_frame_zstd():
    co = zlib.compressobj(6, zlib.DEFLATED, -15)
    assert decode_bounded(co.compress(DATA) + co.flush(), "deflate", len(DATA)) == DATA
    assert decode_bounded(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip", 10) == b"abcd"
    z = zstandard.ZstdCompressor()
    assert decode_bounded(z.compress(b"ab") + z.compress(b"cd"), "zstd", 10) == b"abcd"


def test_zstd_window_over_8mib_is_refused():
    """RFC 9659 caps the zstd content coding's window at 8 MB: a larger one would be decoder memory."""
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=27)
    co = zstandard.ZstdCompressor(compression_params=params).compressobj()  # no content size: the window counts
    raw = co.compress(DATA) + co.flush()
    assert zstandard.get_frame_parameters(raw).window_size == 1 << 27
    with pytest.raises(ValueError):
        decode_bounded(raw, "zstd", 10 * len(DATA))


def test_stacked_encodings_decoded_layer_by_layer_under_one_bound():
    """``Content-Encoding: gzip, br``: gzip was applied first, so br is undone first."""
    raw = brotli.compress(gzip.compress(DATA))
    assert decode_bounded(raw, "gzip, br", len(DATA)) == DATA
    assert decode_bounded(raw, "gzip, identity, br", len(DATA)) == DATA
    with pytest.raises(BodyTooLarge):
        decode_bounded(raw, "gzip, br", len(DATA) - 1)
    with pytest.raises(ValueError):
        decode_bounded(raw, "br, gzip", 10 * len(DATA))  # wrong order: corrupt, not guessed
    d = StreamDecoder("gzip, br")
    assert d.feed(raw[:100]) + d.feed(raw[100:]) + d.finish() == DATA
    # a bomb inside a wrapper is still bounded
    wrapped = gzip.compress(bomb("br"))
    with pytest.raises(BodyTooLarge):
        decode_bounded(wrapped, "br, gzip", MIB)


def test_encoding_header_parsing():
    assert parse_encoding(None) == parse_encoding("") == parse_encoding("identity") == []
    assert parse_encoding(" GZIP , br ") == ["gzip", "br"]
    for bad in ("compress", "gzip, gzip, gzip, gzip", "gzip;q=1"):
        with pytest.raises(ValueError):
            parse_encoding(bad)
