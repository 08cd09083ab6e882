"""What on-call reads about a crisis text: the category in clinical words, or, for the
learned model, the kind it reads likeliest, said to be a reading."""

from __future__ import annotations

from worker.safety.alerts import crisis_trigger


def test_a_rule_finding_is_summarised_by_its_category() -> None:
    trigger = crisis_trigger("plan_or_means", "en.plan.pills_saved", 7)
    assert (trigger.category, trigger.summary) == ("plan_or_means", "crisis text, plan or means")


def test_a_model_finding_names_the_kind_it_read_as_possible() -> None:
    trigger = crisis_trigger("plan_or_means", "model", 7)
    assert (trigger.category, trigger.summary) == (
        "plan_or_means",
        "crisis text, possible plan or means (the learned model; no rule matched)",
    )


def test_an_unknown_category_from_an_older_rule_file_still_alerts_as_ideation() -> None:
    assert crisis_trigger("worry", "en.old.rule", 7).category == "ideation"
