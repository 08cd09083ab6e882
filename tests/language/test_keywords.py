"""What counts as STOP, START, HELP, C and R."""

from __future__ import annotations

import pytest

from worker.language.keywords import Keyword, classify


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", Keyword.OPT_OUT),
        ("stop", Keyword.OPT_OUT),
        (" Stop! ", Keyword.OPT_OUT),
        ("S T O P", Keyword.OPT_OUT),
        ("stopall", Keyword.OPT_OUT),
        ("Unsubscribe", Keyword.OPT_OUT),
        ("cancel", Keyword.OPT_OUT),
        ("END.", Keyword.OPT_OUT),
        ("quit", Keyword.OPT_OUT),
        ("revoke", Keyword.OPT_OUT),
        ("opt-out", Keyword.OPT_OUT),
        ("Stop texting me", Keyword.OPT_OUT),
        ("alto", Keyword.OPT_OUT),
        ("START", Keyword.OPT_IN),
        ("unstop", Keyword.OPT_IN),
        ("yes", Keyword.YES),
        ("Y", Keyword.YES),
        ("sí", Keyword.YES),
        ("help", Keyword.HELP),
        ("INFO", Keyword.HELP),
        ("ayuda", Keyword.HELP),
        ("C", Keyword.CONFIRM),
        ("c.", Keyword.CONFIRM),
        ("Confirm", Keyword.CONFIRM),
        ("confirmar", Keyword.CONFIRM),
        ("R", Keyword.RESCHEDULE),
        ("reschedule", Keyword.RESCHEDULE),
    ],
)
def test_keywords_ignore_case_spaces_and_punctuation(text: str, keyword: Keyword) -> None:
    assert classify(text) == keyword


@pytest.mark.parametrize(
    "text", ["I can't stop crying", "see you then", "", "🙂", "can we do 3pm instead?", "stopping by"]
)
def test_sentences_that_merely_contain_a_keyword_are_not_keywords(text: str) -> None:
    assert classify(text) is None
