"""Network identifiers: e-mail addresses, URLs and bare domains, IPv4/IPv6 and MAC addresses."""

from __future__ import annotations

import regex

from masker.detect.context import find_words, prefix_free, windows
from masker.detect.recognizer import Emit
from masker.detect.recognizers.base import RegexRecognizer, Scan, finditer_in
from masker.detect.vocab.words import TLDS

EMAIL_CONFIDENCE = 0.95
URL_CONFIDENCE = 0.95  # a scheme or "www."
DOMAIN_CONFIDENCE = 0.7  # a bare "example.org"
IPV6_CONFIDENCE = 0.85
MAC_CONFIDENCE = 0.9  # "00:1a:2b:3c:4d:5e", "00-1a-..."
MAC_DOTTED_CONFIDENCE = 0.7  # "001a.2b3c.4d5e"
IPV4_CONFIDENCE = 0.9
IPV4_VERSION_CONFIDENCE = 0.5  # a dotted quad after "version", "build"...
VERSION_WINDOW = 12  # characters before a dotted quad searched for a version cue
# Characters scanned (before, after) around a ".tld" trigger and around a hex-separator spot.
DOMAIN_REGION = (64, 16)
HEX_REGION = (40, 48)

I = regex.I  # noqa: E741 - the regex flag's own name

EMAIL = regex.compile(
    r"(?<![\w.%+'-])[A-Za-z0-9][A-Za-z0-9._%+'-]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)
URL = regex.compile(r"\b(?:(?:https?|ftp)://|www\.)[^\s<>\"'`{}|\\^\[\]]+", I)
URL_TRIGGERS = ("http", "ftp", "www.")
BARE_DOMAIN = regex.compile(
    r"(?<![\w@.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:" + "|".join(TLDS) + r")(?![\w-])"
    r"(?:/[^\s<>\"'`{}|\\^\[\]]*)?",
    I,
)
TLD_TRIGGERS = prefix_free("." + t for t in TLDS)  # ".co" finds every ".com" too

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4 = regex.compile(r"(?<![0-9.])(?:" + _OCTET + r"\.){3}" + _OCTET + r"(?![0-9]|\.[0-9])")
_H = r"[0-9a-f]{1,4}"
IPV6 = regex.compile(
    r"(?<![0-9a-f:.])(?>"
    rf"(?:{_H}:){{7}}{_H}"
    rf"|(?:{_H}:){{1,6}}:{_H}(?::{_H}){{0,5}}"
    rf"|(?:{_H}:){{1,7}}:"
    rf"|::{_H}(?::{_H}){{1,6}}"
    rf")(?![0-9a-f:])",
    I,
)
MAC = regex.compile(
    r"(?<![0-9a-f:-])(?:[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}"
    r"|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4})(?![0-9a-f]|[:.-][0-9a-f])",
    I,
)
_HEX = frozenset("0123456789abcdefABCDEF")
_HEX_LETTERS = frozenset("abcdefABCDEF")


class Email(RegexRecognizer):
    id = "email"
    kinds = frozenset({"EMAIL"})
    detectors = frozenset({"email"})
    description = "e-mail addresses: local@domain.tld"
    needs_digit = False

    def find(self, scan: Scan, emit: Emit) -> None:
        text = scan.text
        if "@" not in text:
            return
        for m in EMAIL.finditer(text):
            emit(m.start(), m.end(), "EMAIL", "email", EMAIL_CONFIDENCE)


class Url(RegexRecognizer):
    id = "url"
    kinds = frozenset({"URL"})
    detectors = frozenset({"url", "domain"})
    description = "URLs with a scheme or www., and bare domains ending in a known TLD"
    needs_digit = False

    def find(self, scan: Scan, emit: Emit) -> None:
        text, low = scan.text, scan.low
        for pos in find_words(low, URL_TRIGGERS):
            m = URL.match(text, pos)
            if m is not None:
                emit(m.start(), url_end(text, m.start(), m.end()), "URL", "url", URL_CONFIDENCE)
        tlds = [p for p in find_words(low, TLD_TRIGGERS, left=False) if p > 0 and low[p - 1].isalnum()]
        for lo, hi in windows(text, tlds, *DOMAIN_REGION):
            for m in BARE_DOMAIN.finditer(text, lo, hi):
                emit(m.start(), url_end(text, m.start(), m.end()), "URL", "domain", DOMAIN_CONFIDENCE)


class NetworkAddress(RegexRecognizer):
    """IPv6 and MAC addresses (found around the same hex-and-separator spots), then IPv4."""

    id = "network_address"
    kinds = frozenset({"IP_ADDRESS", "MAC_ADDRESS"})
    detectors = frozenset({"ipv6", "mac", "ipv4"})
    description = "IPv6, MAC and IPv4 addresses (a dotted quad after a version cue scores low)"
    needs_digit = False  # IPv6 and MAC addresses may be all hex letters

    def find(self, scan: Scan, emit: Emit) -> None:
        text = scan.text
        spots = hex_separator_spots(text)
        if spots:
            regions = windows(text, spots, *HEX_REGION)
            for m in finditer_in(IPV6, text, regions):
                value = m.group()
                groups = [g for g in value.split(":") if g]
                has_digit = any(c.isdigit() for c in value)
                has_hex_letter = any(c in _HEX_LETTERS for c in value)
                if len(groups) >= 3 or (has_digit and has_hex_letter):
                    emit(m.start(), m.end(), "IP_ADDRESS", "ipv6", IPV6_CONFIDENCE)
            for m in finditer_in(MAC, text, regions):
                conf = MAC_DOTTED_CONFIDENCE if "." in m.group() else MAC_CONFIDENCE
                emit(m.start(), m.end(), "MAC_ADDRESS", "mac", conf)
        if not scan.has_digit:
            return
        context = scan.context
        for m in IPV4.finditer(text):
            cue = context.before("VERSION", text, m.start(), VERSION_WINDOW)
            emit(m.start(), m.end(), "IP_ADDRESS", "ipv4", IPV4_VERSION_CONFIDENCE if cue else IPV4_CONFIDENCE, cue=cue)


def hex_separator_spots(text: str) -> list[int]:
    """Positions that may belong to an IPv6 or MAC address: ``h:h``, ``::``, ``hh-hh-``, ``hhhh.hhhh.``."""
    spots: list[int] = []
    n = len(text)
    i = text.find(":")
    while i != -1:
        if 0 < i < n - 1 and (text[i - 1] in _HEX or text[i - 1] == ":") and (
            text[i + 1] in _HEX or text[i + 1] == ":"
        ):
            spots.append(i)
        i = text.find(":", i + 1)
    i = text.find("-")
    while i != -1:
        if i >= 2 and i + 6 <= n and text[i + 3] == "-" and all(c in _HEX for c in text[i - 2 : i] + text[i + 1 : i + 3]):
            spots.append(i)
        i = text.find("-", i + 1)
    i = text.find(".")
    while i != -1:
        if i >= 4 and i + 10 <= n and text[i + 5] == "." and all(c in _HEX for c in text[i - 4 : i] + text[i + 1 : i + 5]):
            spots.append(i)
        i = text.find(".", i + 1)
    spots.sort()
    return spots


def url_end(text: str, start: int, end: int) -> int:
    """Drop trailing sentence punctuation and an unbalanced closing bracket."""
    while end > start:
        ch = text[end - 1]
        if ch in ".,;:!?'\"" or (ch == ")" and text.count("(", start, end) < text.count(")", start, end)):
            end -= 1
        else:
            break
    return end
