"""How many SMS segments a text costs, and in which encoding.

GSM-7 (the 3GPP TS 23.038 default alphabet) carries 160 characters in one segment and 153
in each part of a longer one; its extension table (^ { } \\ [ ] ~ | €) costs two each. One
character outside it switches the whole text to UCS-2: 70 in one segment, 67 per part,
counted in UTF-16 units. Spanish acute vowels (á í ó ú) are outside it; é, ñ, ü, ¿ and ¡
are in it. Written here rather than taken from a package: the table is fixed by the
standard, a few lines long, and the candidates on PyPI are unmaintained.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("^{}\\[]~|€\f")
SINGLE_GSM_CHARS = 160
PART_GSM_CHARS = 153
SINGLE_UCS2_UNITS = 70
PART_UCS2_UNITS = 67


@dataclass(frozen=True)
class Cost:
    encoding: str  # "GSM-7" or "UCS-2"
    length: int  # in the encoding's units (an extension character counts two)
    segments: int


def cost(text: str) -> Cost:
    if all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text):
        length = sum(2 if ch in GSM_EXTENDED else 1 for ch in text)
        return Cost("GSM-7", length, _segments(length, SINGLE_GSM_CHARS, PART_GSM_CHARS))
    units = len(text.encode("utf-16-le")) // 2
    return Cost("UCS-2", units, _segments(units, SINGLE_UCS2_UNITS, PART_UCS2_UNITS))


def _segments(length: int, single: int, part: int) -> int:
    if length <= single:
        return 1
    return -(-length // part)
