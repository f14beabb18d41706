"""Voucher codes: unguessable, readable, and self-checking.

A code is 17 random characters of Crockford's base32 alphabet (85 bits from
:mod:`secrets`) and one check character (Damm's algorithm over the quasigroup
``x ∗ y = 2x + y`` in GF(32), which is totally anti-symmetric: it catches every
single mistyped character and every swap of two different neighbours), grouped in
threes of six: ``K7QM2X-9RVD4P-HT3WNE``. Input is forgiving the way
Crockford's alphabet intends: case, spaces and hyphens are ignored, and the
look-alikes O, I and L read as 0, 1 and 1. A code whose check character does
not match is refused before any database lookup.
"""

from __future__ import annotations

import secrets
from functools import lru_cache

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_LENGTH = 17
GROUP = 6
_INDEX = {ch: i for i, ch in enumerate(ALPHABET)}
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _times_two(x: int) -> int:
    """Multiply by the field element 2 in GF(32) = GF(2)[x] / (x⁵ + x² + 1)."""
    x <<= 1
    return x ^ 0b100101 if x & 0b100000 else x


def _interim(text: str) -> int:
    interim = 0
    for ch in text:
        interim = _times_two(interim) ^ _INDEX[ch]
    return interim


def check_character(payload: str) -> str:
    """The Damm check character of ``payload`` (base32 characters): the one
    that brings the interim back to 0."""
    return ALPHABET[_times_two(_interim(payload))]


def _group(raw: str) -> str:
    return "-".join(raw[i : i + GROUP] for i in range(0, len(raw), GROUP))


def generate_code() -> str:
    """A new random code with its check character, grouped for reading."""
    payload = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return _group(payload + check_character(payload))


# Longer than any way of writing a code (18 characters, spaced and hyphenated).
LONGEST_INPUT = 64


def normalize_code(text: str) -> str | None:
    """The canonical grouped form of ``text``, or None when it cannot be a
    valid code (wrong length, foreign character or wrong check character)."""
    if len(text) > LONGEST_INPUT:
        return None
    return _normalized(text)


# Pure, and a usage batch names the same few vouchers many times over.
@lru_cache(maxsize=8192)
def _normalized(text: str) -> str | None:
    raw = "".join(text.split()).replace("-", "").upper().translate(_LOOKALIKES)
    if len(raw) != RANDOM_LENGTH + 1 or any(ch not in _INDEX for ch in raw):
        return None
    if _interim(raw) != 0:
        return None
    return _group(raw)
