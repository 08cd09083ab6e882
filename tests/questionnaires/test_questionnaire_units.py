"""Definitions, answer parsing and scoring: pure parts, table-tested (crisis language is in
tests/language/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.lib.errors import InputError
from worker.questionnaires.definitions import load_catalogue, load_file, next_item
from worker.questionnaires.parsing import INVALID, parse_answer
from worker.questionnaires.scoring import progress, score
from worker.questionnaires.texts import MAX_SEGMENTS, text_costs
from worker.settings import bundled_config_dir

CONFIG = bundled_config_dir()
CATALOGUE = load_catalogue(CONFIG / "questionnaires")
PHQ9, GAD7, CHECKIN = (CATALOGUE.get(q) for q in ("phq9", "gad7", "checkin"))


def test_shipped_questionnaires_have_the_standard_items_bands_and_safety_rule() -> None:
    assert [i.id for i in PHQ9.items] == [f"q{n}" for n in range(1, 10)] + ["difficulty"]
    assert [b.minimum for b in PHQ9.bands] == [0, 5, 10, 15, 20]
    assert [b.minimum for b in GAD7.bands] == [0, 5, 10, 15]
    assert len([i for i in GAD7.items if i.scored]) == 7
    assert [i.id for i in PHQ9.items if i.safety_min is not None] == ["q9"]
    assert PHQ9.item("q9").raises_alert(1) and not PHQ9.item("q9").raises_alert(0)
    assert [i.type for i in CHECKIN.items] == ["integer", "yes_no", "text", "text"]
    for q in (PHQ9, GAD7, CHECKIN):
        assert all(set(item.prompt) == {"en", "es"} for item in q.items)


def test_every_question_and_reask_is_plain_gsm_and_at_most_three_segments_in_both_languages() -> None:
    for q in (PHQ9, GAD7, CHECKIN):
        costs = text_costs(CATALOGUE, q.id, "Riverside Clinic")
        assert {c.language for c in costs} == {"en", "es"}
        for c in costs:
            assert c.cost.encoding == "GSM-7" and c.cost.segments <= MAX_SEGMENTS, (
                c.template,
                c.language,
                c.cost,
            )


def test_items_carry_the_published_wording_in_english_and_us_spanish() -> None:
    stem = "Over the last 2 weeks, how often have you been bothered by:"
    assert all(stem in i.prompt["en"] for i in PHQ9.items if i.scored)
    assert "trouble falling or staying asleep, or sleeping too much?" in PHQ9.item("q3").prompt["en"]
    assert "let yourself or your family down" in PHQ9.item("q6").prompt["en"]
    assert "fracaso" in PHQ9.item("q6").prompt["es"]
    q8 = PHQ9.item("q8").prompt["en"]
    assert "so slowly that other people could have noticed" in q8 and "fidgety" in q8
    assert "0 Ningun dia" in PHQ9.item("q1").prompt["es"]
    assert PHQ9.item("q1").options[0].label == {"en": "Not at all", "es": "Ningún día"}
    assert (
        GAD7.item("q1")
        .prompt["en"]
        .endswith(
            "feeling nervous, anxious or on edge? 0 Not at all, 1 Several days, 2 More than half the days, "
            "3 Nearly every day"
        )
    )


def test_the_difficulty_item_is_asked_only_after_a_problem_was_checked() -> None:
    nothing = {f"q{n}": 0 for n in range(1, 10)}
    assert next_item(PHQ9, "q9", nothing) is None
    assert next_item(PHQ9, "q9", nothing | {"q4": 1}) == PHQ9.item("difficulty")
    assert next_item(GAD7, "q7", {f"q{n}": 0 for n in range(1, 8)}) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("2", 2),
        (" 2.", 2),
        ("2 - more than half the days", 2),
        ("More than half the days", 2),
        ("0", 0),
        ("3!", 3),
        ("4", INVALID),
        ("two", 2),
        ("", INVALID),
        ("12", INVALID),
        ("2.5", INVALID),
    ],
)
def test_choice_answers_are_read_leniently(body: str, expected: object) -> None:
    assert parse_answer(PHQ9.item("q1"), body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("yes", True),
        ("Y", True),
        ("sí", True),
        ("Si", True),
        ("no", False),
        ("N", False),
        ("nope", False),
        ("maybe", INVALID),
    ],
)
def test_yes_no_answers(body: str, expected: object) -> None:
    assert parse_answer(CHECKIN.item("side_effects"), body) is expected


def test_integer_range_and_free_text_with_skip() -> None:
    assert parse_answer(CHECKIN.item("mood"), "7/10") == 7
    assert parse_answer(CHECKIN.item("mood"), "11") is INVALID
    assert parse_answer(CHECKIN.item("note"), "  SKIP ") is None
    assert parse_answer(CHECKIN.item("note"), "Headache 🙂") == "Headache 🙂"


def test_scores_and_bands() -> None:
    answers = {f"q{n}": 2 for n in range(1, 10)} | {"difficulty": 1}
    assert score(PHQ9, answers) == 18 and PHQ9.severity(18) == "moderately severe"
    assert PHQ9.severity(4) == "minimal" and PHQ9.severity(20) == "severe" and GAD7.severity(10) == "moderate"
    assert score(PHQ9, answers | {"q4": None}) is None  # partial runs are not scored
    assert score(CHECKIN, {"mood": 5}) is None


def test_progress_from_the_first_score() -> None:
    later = progress("phq9", 20, 9)
    assert (later.change, later.response, later.remission) == (-11, True, False)
    assert progress("phq9", 20, 4).remission is True
    assert progress("phq9", 20, 11).response is False
    assert progress("gad7", 12, 6).remission is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "id: x\ntitle: X\nintro: {en: hi}\nclosing: {en: bye}\nitems:\n  - {id: a, type: slider, prompt: {en: q}}\n",
            "bad.yaml: items[0].type: must be one of choice, integer, yes_no, text",
        ),
        (
            "id: x\ntitle: X\nintro: {es: hola}\nclosing: {en: bye}\nitems:\n  - {id: a, type: text, prompt: {en: q}}\n",
            "bad.yaml: intro: needs an 'en' text",
        ),
        (
            "id: x\ntitle: X\nintro: {en: hi}\nclosing: {en: bye}\nitems:\n"
            "  - {id: a, type: text, prompt: {en: q}, when: {item: b, equals: true}}\n"
            "  - {id: b, type: yes_no, prompt: {en: q}}\n",
            "bad.yaml: items[0].when.item: 'b' is not an earlier item",
        ),
        (
            "id: x\ntitle: X\nintro: {en: hi}\nclosing: {en: bye}\nitems:\n  - {id: a, type: integer, min: 5, max: 1, prompt: {en: q}}\n",
            "bad.yaml: items[0].max: must be greater than min",
        ),
        ("id: [\n", "bad.yaml: not valid YAML (line 2)"),
    ],
)
def test_a_bad_definition_is_one_error_naming_file_and_field(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(InputError) as caught:
        load_file(path)
    assert str(caught.value) == message
