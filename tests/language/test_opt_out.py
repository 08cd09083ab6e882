"""A wish to stop the texts, said in the patient's own words (the FCC's "any reasonable means")."""

from __future__ import annotations

import pytest

from worker.language.opt_out import read, wrong_number


@pytest.mark.parametrize(
    "text",
    [
        "please stop",
        "Stop please",
        "STOP please",
        "no more texts",
        "No more messages please",
        "I want to opt out",
        "take me off your list",
        "please don't contact me again",
        "stop, wrong number",
        "No me manden más mensajes",
        "ya no quiero recibir mensajes",
        "pare por favor",
        "dejen de mandarme mensajes",
        "sáquenme de la lista",
        "quiero darme de baja",
    ],
)
def test_a_plain_request_to_stop_is_an_opt_out(text: str) -> None:
    assert read(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "I can't stop crying",
        "stopping by after work",
        "end it",
        "I want it all to stop",
        "the pain won't stop",
        "no puedo parar de llorar",
        "quiero que pare el dolor",
        "cancel my appointment",
        "cancel it",
        "I quit my job",
        "no",
        "never",
        "nunca",
        "see you then",
    ],
)
def test_a_sentence_that_merely_holds_a_stop_word_is_not_an_opt_out(text: str) -> None:
    assert read(text) is None


def test_a_wrong_number_is_an_opt_out_and_said_so() -> None:
    assert read("wrong number") == "en.opt_out.wrong_number"
    assert read("número equivocado") == "es.opt_out.numero_equivocado"
    assert wrong_number("stop, wrong number") and not wrong_number("please stop")
