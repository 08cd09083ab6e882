"""The words of a run's texts, from the template a message row points at."""

from __future__ import annotations

from dataclasses import dataclass

from worker.lib.segments import Cost, cost
from worker.questionnaires.definitions import AMBIGUOUS_HINTS, NUDGE, Catalogue, hint, pick


def render(catalogue: Catalogue, template: str, language: str, **values: str) -> str:
    """`phq9/start`, `phq9/q3`, `phq9/q3/reask`, `phq9/q3/reask/days`, `phq9/q3/nudge` or
    `phq9/closing`."""
    questionnaire_id, _, rest = template.partition("/")
    questionnaire = catalogue.get(questionnaire_id)
    if rest == "start":
        first = next(i for i in questionnaire.items if i.when is None and i.when_any_above is None)
        text = pick(questionnaire.intro, language) + "\n" + pick(first.prompt, language)
    elif rest == "closing":
        text = pick(questionnaire.closing, language)
    else:
        item_id, _, variant = rest.partition("/")
        item = questionnaire.item(item_id)
        prompt = pick(item.prompt, language)
        if variant.startswith("reask"):
            ambiguous = variant.partition("/")[2] or None  # reask/days: what was unclear
            text = f"{hint(item, language, ambiguous)} {prompt}"
        elif variant == "nudge":
            text = f"{pick(NUDGE, language)} {prompt}"
        else:
            text = prompt
    return text.format(**values).replace("\u00a0", " ").strip()


MAX_SEGMENTS = 3  # a longer text is split and rejoined unreliably, and costs more


@dataclass(frozen=True)
class TextCost:
    template: str  # phq9/q3, phq9/q3/reask, ...
    language: str
    cost: Cost


def text_costs(catalogue: Catalogue, questionnaire_id: str, clinic_name: str) -> list[TextCost]:
    """Every text a run can send, in every language it has, with its SMS cost."""
    questionnaire = catalogue.get(questionnaire_id)
    templates = [f"{questionnaire_id}/start"]
    for item in questionnaire.items:
        templates += [f"{questionnaire_id}/{item.id}", f"{questionnaire_id}/{item.id}/reask"]
        if item.type == "choice":  # the re-asks that name what was unclear
            templates += [f"{questionnaire_id}/{item.id}/reask/{why}" for why in AMBIGUOUS_HINTS]
    templates.append(f"{questionnaire_id}/closing")
    languages = sorted(
        {lang for item in questionnaire.items for lang in item.prompt} | set(questionnaire.intro)
    )
    return [
        TextCost(template, language, cost(render(catalogue, template, language, clinic_name=clinic_name)))
        for template in templates
        for language in languages
    ]
