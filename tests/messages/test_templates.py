"""Message templates: shipped texts, languages, zones, and what they must never say."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from worker.lib.errors import InputError
from worker.lib.segments import cost
from worker.messages.templates import format_when, load_templates
from worker.settings import load_settings

AT = datetime(2026, 12, 1, 20, 30, tzinfo=UTC)


def test_shipped_reminders_end_with_reply_options_and_never_say_cancel() -> None:
    templates = load_templates(load_settings(config_dir=None))
    english = templates.render(
        "reminder", "en", clinic_name="Riverside Clinic", clinic_phone="", when="on Tue Dec 1 at 3:30 PM"
    )
    assert english.endswith("Reply C to confirm or R to reschedule")
    for language in ("en", "es"):
        text = templates.render("reminder", language, clinic_name="X", clinic_phone="", when="w")
        assert "CANCEL" not in text.upper().replace("CANCELAR", "")
        assert len(text) + len("Riverside Clinic on Tue Dec 1 at 3:30 PM") <= 160


def test_help_names_message_and_data_rates_in_both_languages() -> None:
    templates = load_templates(load_settings(config_dir=None))
    values = {"clinic_name": "Riverside Clinic", "clinic_phone": "+14155550100", "when": ""}
    assert templates.render("help", "en", **values).endswith("Msg&data rates may apply.")
    assert templates.render("help", "es", **values).endswith("Pueden aplicarse tarifas de mensajes y datos.")


def test_the_clarification_and_question_answers_fit_one_segment_and_the_desk_text_holds_an_id_only() -> None:
    templates = load_templates(load_settings(config_dir=None))
    values = {
        "clinic_name": "Riverside Clinic",
        "clinic_phone": "+14155550100",
        "when": "on Thu Dec 10 at 2:00 PM",
    }
    for name in ("reminder_clarify", "question_ack"):
        for language in ("en", "es"):
            cost_of = cost(templates.render(name, language, **values))
            assert (cost_of.encoding, cost_of.segments) == ("GSM-7", 1), (name, language, cost_of)
    desk = templates.render("front_desk_attention", "en", reply_id="42", **values)
    assert desk == "clinic-worker: reply 42 needs a person. See replies list --needs-attention."


def test_unknown_language_falls_back_to_english() -> None:
    templates = load_templates(load_settings(config_dir=None))
    assert templates.render("reminder", "fr", clinic_name="X", clinic_phone="", when="w").startswith(
        "X: reminder"
    )


def test_time_is_shown_in_the_patients_zone_with_its_abbreviation_when_it_differs() -> None:
    assert format_when(AT, "America/New_York", "en", "America/New_York") == "on Tue Dec 1 at 3:30 PM"
    assert format_when(AT, "America/Los_Angeles", "en", "America/New_York") == "on Tue Dec 1 at 12:30 PM PST"
    assert format_when(AT, "America/New_York", "es", "America/New_York") == "el mar 1 dic a las 15:30"


def test_a_template_with_an_unknown_placeholder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "templates.yaml").write_text('reminder:\n  en: "Hi {first_name}"\n')
    with pytest.raises(InputError, match=r"templates.yaml: reminder.en: unknown placeholder first_name"):
        load_templates(load_settings(config_dir=tmp_path))


def test_the_config_directory_copy_is_the_shipped_one() -> None:
    repo_config = Path(__file__).resolve().parents[2] / "config" / "templates.yaml"
    from worker.settings import bundled_config_dir

    assert (bundled_config_dir() / "templates.yaml").read_text() == repo_config.read_text()
