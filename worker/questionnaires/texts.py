"""The words of a run's texts, from the template a message row points at."""

from __future__ import annotations

from worker.questionnaires.definitions import NUDGE, Catalogue, hint, pick


def render(catalogue: Catalogue, template: str, language: str, **values: str) -> str:
    """`phq9/start`, `phq9/q3`, `phq9/q3/reask`, `phq9/q3/nudge` or `phq9/closing`."""
    questionnaire_id, _, rest = template.partition("/")
    questionnaire = catalogue.get(questionnaire_id)
    if rest == "start":
        first = next(item for item in questionnaire.items if item.when is None)
        text = pick(questionnaire.intro, language) + "\n" + pick(first.prompt, language)
    elif rest == "closing":
        text = pick(questionnaire.closing, language)
    else:
        item_id, _, variant = rest.partition("/")
        item = questionnaire.item(item_id)
        prompt = pick(item.prompt, language)
        if variant == "reask":
            text = f"{hint(item, language)} {prompt}"
        elif variant == "nudge":
            text = f"{pick(NUDGE, language)} {prompt}"
        else:
            text = prompt
    return text.format(**values).replace("\u00a0", " ").strip()
