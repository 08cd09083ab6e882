"""SMS segment counting: GSM-7 and UCS-2, single and concatenated."""

from __future__ import annotations

from worker.lib.segments import cost


def test_plain_text_is_gsm_160_in_one_segment_then_153_a_part() -> None:
    assert (cost("a" * 160).encoding, cost("a" * 160).segments) == ("GSM-7", 1)
    assert cost("a" * 161).segments == 2
    assert cost("a" * 306).segments == 2 and cost("a" * 307).segments == 3


def test_an_extension_character_counts_two() -> None:
    assert cost("{" + "a" * 158).length == 160 and cost("{" + "a" * 159).segments == 2


def test_one_acute_vowel_makes_the_whole_text_ucs2() -> None:
    text = "Responda con el número" + "a" * 60
    assert cost(text).encoding == "UCS-2" and cost(text).segments == 2
    assert cost("ñ é ¿ ¡ ü").encoding == "GSM-7"


def test_spanish_without_acute_vowels_stays_gsm() -> None:
    assert cost("Mas de la mitad de los dias, ¿qué tal? Ningun año").encoding == "GSM-7"
