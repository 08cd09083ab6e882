"""The learned crisis model: pure-Python inference equals scikit-learn's, and it only adds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from worker.language.model import EXPLAINED_THRESHOLD, canonical_text, load_model
from worker.language.normalise import words
from worker.language.screening import MODEL_RULE, load_screener
from worker.lib.errors import InputError

CONFIG = Path(__file__).resolve().parents[2] / "config"
MODEL = load_model(CONFIG / "crisis_model.json")
SCREENER = load_screener(CONFIG / "crisis_rules.yaml")


def test_the_shipped_model_gives_the_probabilities_scikit_learn_gave_at_training() -> None:
    assert len(MODEL.samples) >= 20
    for text, expected in MODEL.samples:
        assert MODEL.probability(text) == pytest.approx(expected, abs=1e-9), text


def test_it_reads_the_text_as_the_rules_do_so_spellings_are_one_feature() -> None:
    assert MODEL.probability("I DON'T want to be here anymore") == pytest.approx(
        MODEL.probability("i dont want to be hereee anymore"), abs=1e-12
    )


def test_a_model_alert_names_one_of_the_five_crisis_categories() -> None:
    assert set(MODEL.classes) == {
        "benign",
        "plan_or_means",
        "intent",
        "ideation",
        "passive_ideation",
        "self_harm",
    }
    reading = MODEL.read("been saving up my pills and i picked a date")
    assert reading.category in set(MODEL.classes) - {"benign"}
    assert reading.crisis == pytest.approx(MODEL.probability("been saving up my pills and i picked a date"))


def test_a_model_file_whose_weights_do_not_line_up_is_refused(tmp_path: Path) -> None:
    raw = json.loads((CONFIG / "crisis_model.json").read_text(encoding="utf-8"))
    raw["vectorizers"][0]["coef"] = raw["vectorizers"][0]["coef"][:-1]
    (tmp_path / "crisis_model.json").write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(InputError, match="differ in length"):
        load_model(tmp_path / "crisis_model.json")


def test_it_alerts_only_when_a_crisis_is_likelier_than_not() -> None:
    # 0.7, chosen on the held-out sets left out of training in turn (train_crisis_model.py)
    assert 0.5 < MODEL.threshold < 1
    assert MODEL.probability("see you thursday at 2, thanks!") < MODEL.threshold


def test_the_screener_uses_the_model_only_when_no_rule_matched_and_nothing_was_denied() -> None:
    by_rule = SCREENER.screen("i want to die")
    assert by_rule.alert and by_rule.rule != MODEL_RULE
    denied = SCREENER.screen("im not suicidal, just exhausted")
    assert not denied.alert
    assert not SCREENER.screen("see you thursday at 2, thanks!").alert


def test_without_a_model_file_the_rules_work_alone(tmp_path: Path) -> None:
    rules = tmp_path / "crisis_rules.yaml"
    rules.write_text((CONFIG / "crisis_rules.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    screener = load_screener(rules)
    assert screener.model is None and screener.screen("kms").alert


def test_a_broken_model_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "crisis_model.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match=r"^crisis_model.json: cannot read the crisis model"):
        load_model(tmp_path / "crisis_model.json")


def test_short_answers_are_left_to_the_rules() -> None:
    # "sometimes", "every day", "idk": questionnaire answers, not crisis texts, however the
    # model reads them without context.
    for text in ("sometimes", "every day", "idk", "a veces", "not sure"):
        assert not SCREENER.screen(text).alert, text


@pytest.mark.parametrize("text", ["me corté el pelo", "me corté el pelo y me siento fea", "i want to die"])
def test_where_an_idiom_explained_the_crisis_words_it_needs_the_higher_threshold(text: str) -> None:
    seen = canonical_text(words(text))
    crisis = MODEL.read_canonical(seen).crisis
    needed = max(MODEL.threshold, EXPLAINED_THRESHOLD)
    assert (MODEL.alerts(seen, explained=True) is not None) == (crisis >= needed)
    assert (MODEL.alerts(seen) is not None) == (crisis >= MODEL.threshold)
