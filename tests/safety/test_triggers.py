"""What on-call reads about a crisis text: the category in clinical words, or, for the
learned model, that it is a possible crisis no rule named."""

from __future__ import annotations

from worker.safety.alerts import crisis_trigger


def test_a_rule_finding_is_summarised_by_its_category() -> None:
    trigger = crisis_trigger("plan_or_means", "en.plan.pills_saved", 7)
    assert (trigger.category, trigger.summary) == ("plan_or_means", "crisis text, plan or means")


def test_a_model_finding_says_it_is_a_possible_crisis_not_a_kind() -> None:
    trigger = crisis_trigger("ideation", "model", 7)
    assert trigger.summary == "crisis text, possible crisis (no rule matched; the learned model)"


def test_an_unknown_category_from_an_older_rule_file_still_alerts_as_ideation() -> None:
    assert crisis_trigger("worry", "en.old.rule", 7).category == "ideation"
