"""The LOINC codes of the shipped instruments, pinned to LOINC's own answer lists: LL358-3
(PHQ-9 and GAD-7 frequency answers) and LL359-1 (the difficulty item), whose last two
codes are easy to swap (LA6575-0 is "Very difficult", LA6574-3 "Extremely difficult")."""

from __future__ import annotations

import pytest

from worker.questionnaires.definitions import load_catalogue
from worker.settings import bundled_config_dir

FREQUENCY = {0: "LA6568-5", 1: "LA6569-3", 2: "LA6570-1", 3: "LA6571-9"}
DIFFICULTY = {0: "LA6572-7", 1: "LA6573-5", 2: "LA6575-0", 3: "LA6574-3"}
DIFFICULTY_LABELS = {
    0: "Not difficult at all",
    1: "Somewhat difficult",
    2: "Very difficult",
    3: "Extremely difficult",
}


@pytest.mark.parametrize("questionnaire", ["phq9", "gad7"])
def test_every_answer_code_is_loincs_own(questionnaire: str) -> None:
    definition = load_catalogue(bundled_config_dir() / "questionnaires").get(questionnaire)
    for item in definition.items:
        if item.type != "choice":
            continue
        codes = {option.value: option.code for option in item.options}
        if item.id == "difficulty":
            assert codes == DIFFICULTY, item.id
            assert {o.value: o.label["en"] for o in item.options} == DIFFICULTY_LABELS
        else:
            assert codes == FREQUENCY, item.id
