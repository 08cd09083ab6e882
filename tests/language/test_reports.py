"""Someone texting about a patient: read as the patient's own words when it is about one."""

from __future__ import annotations

import pytest

from worker.language.normalise import tokens
from worker.language.reports import about_a_patient, as_the_patient
from worker.language.screening import Screening, load_screener
from worker.settings import bundled_config_dir

SCREENER = load_screener(bundled_config_dir() / "crisis_rules.yaml")


def _rewritten(text: str) -> str:
    return " ".join(t.word for t in as_the_patient(tokens(text)))


def screen(text: str) -> Screening:
    return SCREENER.screen(text)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (
            "My son just told me he's going to kill himself. He's 19, he's your patient. Please call me back",
            "intent",
        ),
        ("my mom keeps saying she wishes she'd just die already. she's your patient", "passive_ideation"),
        ("mi hija de 15 dice que quiere matarse, lo ha dicho tres veces esta semana. qué hago?", "ideation"),
        ("Mi papá dice que ya quiere que Dios se lo lleve. Es paciente de ustedes", "passive_ideation"),
    ],
)
def test_a_relative_telling_of_a_patient_in_danger_alerts(text: str, category: str) -> None:
    found = screen(text)
    assert found.alert and found.category == category, found


@pytest.mark.parametrize(
    "text",
    [
        "mi hermano se suicidó hace un año, mi mamá es paciente de ustedes",
        "my uncle killed himself last year, my aunt is your patient",
        "my son is your patient, he says he is dying to see the new movie",
        "my sister wants to die of embarrassment lol",
    ],
)
def test_a_death_told_of_the_past_or_an_idiom_does_not_alert(text: str) -> None:
    assert not screen(text).alert


def test_without_a_word_that_it_is_about_a_patient_the_text_is_not_reread() -> None:
    assert not about_a_patient(tokens("my friend says she wants to die of boredom in class"))
    assert about_a_patient(tokens("she sees you guys on Tuesdays"))


def test_present_clauses_are_put_in_the_first_person_and_past_ones_left() -> None:
    assert _rewritten("she wants to kill herself") == "i want to kil myself"
    assert _rewritten("dice que se va a matar") == "digo que me voy a matar"
    assert _rewritten("se corta los brazos") == "me corto los brazos"
    assert _rewritten("se mató el año pasado") == "se mato el ano pasado"
