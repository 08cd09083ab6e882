"""Message templates from config/templates.yaml, rendered in the patient's language and zone."""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from worker.lib.errors import InputError
from worker.settings import Settings, config_file

PLACEHOLDERS = frozenset(
    {
        "clinic_name",
        "clinic_phone",
        "when",
        "appointment_id",
        "reply_id",
        "alert_id",
        "alert_summary",
        "alert_more",
        "alert_minutes",
        "alert_acked_by",
    }
)
FALLBACK_LANGUAGE = "en"

_WEEKDAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "es": ("lun", "mar", "mié", "jue", "vie", "sáb", "dom"),
}
_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "es": ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"),
}


@dataclass(frozen=True)
class Templates:
    texts: dict[str, dict[str, str]]

    def render(self, template: str, language: str, **values: str) -> str:
        by_language = self.texts.get(template)
        if by_language is None:
            raise InputError(f"no message template named {template!r}")
        text = by_language.get(language) or by_language[FALLBACK_LANGUAGE]
        # Non-breaking spaces force the costlier UCS-2 encoding: one segment becomes three.
        return text.format(**values).replace("\u00a0", " ").strip()


def load_templates(settings: Settings) -> Templates:
    path = config_file(settings, "templates.yaml")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read templates: {exc}") from None
    return Templates(_validate(path, raw))


def _validate(path: Path, raw: Any) -> dict[str, dict[str, str]]:
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected a mapping of template ids to texts")
    texts: dict[str, dict[str, str]] = {}
    for template, by_language in raw.items():
        where = f"{path}: {template}"
        if not isinstance(by_language, dict) or FALLBACK_LANGUAGE not in by_language:
            raise InputError(f"{where}: needs an '{FALLBACK_LANGUAGE}' text")
        for language, text in by_language.items():
            if not isinstance(text, str) or not text.strip():
                raise InputError(f"{where}.{language}: must be non-empty text")
            unknown = _fields(text) - PLACEHOLDERS
            if unknown:
                raise InputError(f"{where}.{language}: unknown placeholder {sorted(unknown)[0]}")
        texts[str(template)] = {str(lang): str(text) for lang, text in by_language.items()}
    return texts


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def format_when(at: datetime, zone: str, language: str, clinic_zone: str) -> str:
    """`on Tue Dec 1 at 3:30 PM` in the patient's zone; the zone's abbreviation is added when
    it differs from the clinic's, so a patient travelling or living elsewhere is not misled."""
    local = at.astimezone(ZoneInfo(zone))
    lang = language if language in _WEEKDAYS else FALLBACK_LANGUAGE
    day = _WEEKDAYS[lang][local.weekday()]
    month = _MONTHS[lang][local.month - 1]
    if lang == "es":
        text = f"el {day} {local.day} {month} a las {local:%H:%M}"
    else:
        hour = local.hour % 12 or 12
        text = f"on {day} {month} {local.day} at {hour}:{local:%M} {'AM' if local.hour < 12 else 'PM'}"
    if zone != clinic_zone and _abbrev(at, zone) != _abbrev(at, clinic_zone):
        text += f" {_abbrev(at, zone)}"
    return text


def _abbrev(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).tzname() or zone
