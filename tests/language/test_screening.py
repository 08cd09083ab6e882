"""The crisis screener: normalisation, fuzzy guards, the pattern language, context (denials,
someone else, the past), idioms, severity, language, and rule file errors with lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.language.fuzzy import Vocabulary
from worker.language.normalise import words
from worker.language.patterns import PatternError, parse
from worker.language.rules import RuleFileError, load_rules, read_rules
from worker.language.screening import Screener, Screening, load_screener
from worker.settings import bundled_config_dir

RULES = bundled_config_dir() / "crisis_rules.yaml"
SCREENER = load_screener(RULES)
RULES_ONLY = Screener(load_rules(RULES))


def screen(text: str, language: str | None = None) -> Screening:
    return SCREENER.screen(text, language)


def tiny(rules: str) -> Screener:
    return Screener(read_rules(rules, "test.yaml"))


# ------------------------------------------------------------------ normalisation


@pytest.mark.parametrize(
    "text",
    ["I don't want to live", "i dont want to live", "I DON\u2019T WANT TO LIVE", "i do not want to live"],
)
def test_case_and_every_kind_of_apostrophe_read_the_same(text: str) -> None:
    assert words(text) == ["i", "do", "not", "want", "to", "live"]
    assert screen(text).alert


def test_accents_are_folded() -> None:
    assert words("Ojalá estuviera muerta") == words("ojala estuviera muerta")
    assert screen("Ojalá estuviera muerta").alert


@pytest.mark.parametrize("text", ["i want to dieeee", "i wanttt to dieee", "kill myselfff", "killll myself"])
def test_stretched_letters_are_squeezed(text: str) -> None:
    assert screen(text).alert


def test_squeezing_keeps_words_that_would_collide_apart() -> None:
    assert words("off myself") != words("of myself")
    assert not screen("so proud of myself this week").alert
    assert words("no se") == ["no-se"] and not screen("no se si puedo ir el lunes").alert
    assert not screen("my nose is stuffy after the infusion").alert


@pytest.mark.parametrize(
    ("informal", "plain"),
    [
        ("wanna", "want to"),
        ("gonna", "going to"),
        ("im", "i am"),
        ("ive", "i have"),
        ("u", "you"),
        ("ur", "your"),
        ("rn", "right now"),
        ("cant", "can not"),
        ("too", "to"),
        ("my self", "myself"),
        ("kiero", "quiero"),
        ("k", "que"),
        ("q", "que"),
        ("xq", "porque"),
        ("pq", "porque"),
        ("x", "por"),
    ],
)
def test_texting_spellings_become_the_words_they_stand_for(informal: str, plain: str) -> None:
    assert words(informal) == words(plain)


def test_emoji_spacing_and_punctuation_are_ignored() -> None:
    assert screen("i   just want   to  die .. 😭😭").alert
    assert screen("💀 kms 💀").alert
    assert words("die😭") == ["die"]


# ------------------------------------------------------------------ fuzzy matching and its guards


@pytest.mark.parametrize(
    "text",
    [
        "im sucidal",
        "feeling suicidial",
        "pienso en el suisidio",
        "gonna overdoes on my meds",
        "been self harmig",
    ],
)
def test_common_misspellings_of_long_words_still_match(text: str) -> None:
    assert screen(text).alert


def test_real_words_near_rule_words_never_match_loosely() -> None:
    vocabulary = Vocabulary(["w:kiling", "w:kil", "w:die", "w:dying", "w:myself"])
    for real in ("skil", "stil", "diet", "dye", "shil", "deal", "kiding", "kicking", "kising", "wiling"):
        assert not vocabulary.atoms_of(real), real
    assert vocabulary.atoms_of("kilin") == {"w:kiling"}  # "killin", a dropped letter


def test_short_words_are_never_matched_loosely() -> None:
    vocabulary = Vocabulary(["w:die", "w:cut"])
    assert not vocabulary.atoms_of("dye") and not vocabulary.atoms_of("cat")


def test_loose_matches_keep_their_first_letter() -> None:
    assert Vocabulary(["w:kiling"]).atoms_of("biling") == frozenset()


@pytest.mark.parametrize(
    "text",
    [
        "i'm kidding myself if i think this week will be easy",
        "i'm kicking myself for missing it",
        "still on a diet lol",
        "i got the skills group handout",
        "the overdue bill is stressing me",
    ],
)
def test_words_one_letter_away_from_risk_words_do_not_alert(text: str) -> None:
    assert not screen(text).alert


# ------------------------------------------------------------------ the pattern language


def test_a_gap_allows_up_to_n_words_between() -> None:
    screener = tiny("rules:\n  - {id: en.t.gap, category: ideation, pattern: 'want to ...2 die'}\n")
    assert screener.screen("want to die").alert
    assert screener.screen("want to honestly just die").alert
    assert not screener.screen("want to go to the party and die").alert


def test_optional_words_alternatives_and_prefixes() -> None:
    screener = tiny("rules:\n  - {id: en.t.p, category: ideation, pattern: '[i] (end|take) my [own] lif*'}\n")
    for text in ("end my life", "i take my own life", "ending my lifeee"):
        assert screener.screen(text).alert == (text != "ending my lifeee"), text
    assert tiny("rules:\n  - {id: en.t.s, category: ideation, pattern: 'suicid*'}\n").screen("SUICIDAL").alert


def test_lists_numbers_and_clause_ends() -> None:
    screener = tiny(
        "lists:\n  meds: [pills, xanax]\nrules:\n"
        "  - {id: en.t.took, category: plan_or_means, pattern: 'took # @meds'}\n"
        "  - {id: en.t.around, category: intent, pattern: 'will not be around $'}\n"
    )
    assert screener.screen("took 30 xanax").alert
    assert not screener.screen("took 2 pills").alert  # a number of 5 or more
    assert screener.screen("i wont be around, sorry").alert
    assert not screener.screen("i wont be around next week").alert


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("want to (die", "never closed"),
        ("want to die)", "unexpected ')'"),
        ("(die|)", "empty alternative"),
        ("... die", "cannot start or end with a gap"),
        ("want ...40 die", "a gap is 1 to 12 words"),
        ("[maybe]", "not optional"),
        ("s*", "3 letters or more"),
        ("su*cide", "only at the end"),
        ("@nolist", "no list called"),
    ],
)
def test_bad_patterns_say_what_is_wrong(pattern: str, message: str) -> None:
    with pytest.raises(PatternError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(pattern)


# ------------------------------------------------------------------ context


@pytest.mark.parametrize(
    "text",
    [
        "not suicidal just tired",
        "no thoughts of hurting myself",
        "i dont want to die, i just want to feel better",
        "no tengo pensamientos de hacerme daño",
        "nunca he pensado en matarme",
        "duermo mejor, nada de pensamientos de hacerme daño",
        "Thoughts of hurting myself: no, never",
        "Pensamientos de lastimarme: no, ninguno",
        "Thoughts of hurting myself: not at all. The rest are mostly several days.",
        "PHQ-9 was 11 this time, down from 19. Hurting myself question was 0.",
        "Saqué 11 en el de depresión. La de hacerme daño en 0.",
    ],
)
def test_a_denial_before_a_match_is_flagged_not_alerted(text: str) -> None:
    found = screen(text)
    assert not found.alert and found.negated and found.rule is not None


@pytest.mark.parametrize(
    "text",
    [
        "I'm not suicidal but I think about dying every day",
        "no quiero morirme pero a veces pienso en matarme",
        "not suicidal, but i keep thinking everyone would be better off without me",
        "i'm not ok i want to die",
        "i cant stop thinking about killing myself",
        "no dejo de pensar en matarme",
        "i don't think i can go on",
        "not suicidal just wish i wasnt here ya know",
        "no me importa nada quiero morir",
        "mi esposo no sabe q pienso en quitarme la vida",
        "no comi en 3 dias para castigarme",
        "i want to die. no",
        "Confirmo el jueves. Aunque si esto no funciona ya sé cómo lo voy a hacer.",
        "me siento atrapado, no le veo salida a nada",
        "me quiero esfumar y que nadie me encuentre nunca jamás",
        "nunca había pensado tanto en suicidarme como ahora",
        "never thought about killing myself as much as this week",
        "ni pa qué seguir viviendo, la verdad",
        "recaí, llevaba 40 días sin cortarme y anoche volví",
        "desde que me quedé sin trabajo pienso en matarme seguido",
        "ya no quiero vivir, hay días que deseo no despertar",
        "si esta infusión no me funciona me quito la vida",
    ],
)
def test_a_denial_followed_by_but_or_undone_still_alerts(text: str) -> None:
    assert screen(text).alert


@pytest.mark.parametrize(
    "text",
    [
        "my roommate keeps saying she wants to die",
        "my best friend killed himself in march",
        "my daughter has been cutting, can she be seen",
        "mi tío se suicidó hace años",
        "mi prima intentó suicidarse el año pasado",
        "mi amigo dice que quiere matarse",
    ],
)
def test_someone_else_is_not_the_writer(text: str) -> None:
    # The rules alone: the learned model may still read a friend's danger as worth a page.
    assert not RULES_ONLY.screen(text).alert


def test_a_match_said_of_someone_else_is_kept_for_staff() -> None:
    found = RULES_ONLY.screen("my roommate keeps saying she wants to die")
    assert not found.alert and found.negated and found.category == "ideation", found


def test_a_spanish_first_person_verb_makes_it_the_writers_own() -> None:
    # "bro" is a person, but "ando" says the writer is the one.
    assert screen("bro ando bien suicida hoy, no miento").alert


def test_the_past_is_flagged_unless_it_is_back() -> None:
    past = screen("was suicidal years ago but in a much better place now")
    assert not past.alert and past.negated
    assert screen("i was suicidal as a teen and now its back again").alert


@pytest.mark.parametrize(
    "text",
    [
        "this traffic is killing me",
        "I'd kill for a coffee",
        "dying to see you",
        "my phone died",
        "the infusion knocked me out",
        "dead tired",
        "me muero de hambre",
        "me mata el calor",
        "se murió mi celular",
        "me corté el pelo",
        "my boss is gonna kill me if i'm late",
        "watched a documentary about suicide prevention",
        "overdosed on netflix this weekend lol",
        "cutting back on caffeine",
        "me voy a tirar a la cama",
        "jumping in the shower then heading over",
        "qué vergüenza me quiero morir jaja",
        "tengo unos cólicos que me quiero morir jaja",
        "puse las cortinas nuevas yo sola",
        "ya no puedo más con este calor jaja",
        "I work the gun counter at a sporting goods store",
        "won't need the appointment on the 20th, switching to a clinic closer to my new job",
        "Ando con la soga al cuello con las deudas, ¿tienen plan de pagos?",
        "My daughter's wedding is the 12th, I'd rather die than miss it",
        "Le entregué las pistolas a mi hermano como quedamos en el plan de seguridad",
        "casi me mato en la regadera, me resbalé jaja",
        "ya no quiero vivir en este depa, hay puras cucarachas",
        "tengo el coche en el taller, se le ha roto el tubo de escape",
        "me corté con las tijeras de podar, nada grave",
        "scratching my mosquito bites till they bleed, summer problems",
    ],
)
def test_idioms_and_mentions_do_not_alert(text: str) -> None:
    assert not screen(text).alert


# ------------------------------------------------------------------ categories and language


def test_the_most_severe_category_wins() -> None:
    found = screen("i want to die and i have pills saved up")
    assert (found.alert, found.category, found.rule) == (True, "plan_or_means", "en.plan.pills_saved")
    assert screen("im a burden and i cut myself again").category == "self_harm"


def test_rules_of_every_language_apply_to_every_text() -> None:
    found = screen("me quiero morir, im so tired of everything", language="en")
    assert found.alert and found.rule is not None and found.rule.startswith("es.")
    assert found.language == "en"  # the language given wins


def test_language_is_the_rules_when_not_given_else_a_guess() -> None:
    assert screen("quiero morirme").language == "es"
    assert screen("kms").language == "en"
    assert screen("gracias, nos vemos el martes").language == "es"
    assert screen("thanks, see you tuesday").language == "en"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("ive got a stash of xanax for when im ready", "plan_or_means"),
        ("me corto pa poder dormir, ya es costumbre", "self_harm"),
        ("me boi a matar mañana temprano kuando se balla mi señora", "intent"),
        ("desde lo del divorcio no pasa un día sin que piense en suicidarme", "ideation"),
        ("Ya van tres noches que no duermo pensando en quitarme la vida", "ideation"),
        ("Soy la nieta de don Aurelio. Mi abuelo dice que se quiere matar", "ideation"),
        ("Estoy en el parqueo con la manguera ya puesta al escape", "plan_or_means"),
        ("gonna jump off the overpass tonight", "plan_or_means"),
        ("bought a rope today. you know why", "plan_or_means"),
        ("im going to end it this weekend", "intent"),
        ("i wont be alive for my next appointment", "intent"),
        ("sewerslide thoughts again", "ideation"),
        ("i keep wanting to unalive myself", "ideation"),
        ("relapsed and cut last night", "self_harm"),
        ("burned myself with a lighter again", "self_harm"),
        ("wish i could fall asleep and never wake up", "passive_ideation"),
        ("everyone would be better off without me honestly", "passive_ideation"),
        ("tengo la pistola cargada", "plan_or_means"),
        ("me voy a aventar del puente", "plan_or_means"),
        ("ya decidí quitarme la vida", "intent"),
        ("me volví a cortar", "self_harm"),
        ("soy una carga para mi familia", "passive_ideation"),
        ("ojalá me hubiera muerto en el choque", "passive_ideation"),
        ("valgo más muerta que viva", "passive_ideation"),
        ("me da coraje haber despertado otra vez", "passive_ideation"),
        ("la novena le puse 2", "ideation"),
        ("in the better off dead question I put several days", "ideation"),
        ("hoping this storm takes the house with me in it lol", "passive_ideation"),
        ("anoche me bebí un vaso de cloro", "plan_or_means"),
        ("confirmo por confirmar, pa el martes ya no voy a andar por aquí", "intent"),
        ("my therapist is away and I'm having SI pretty bad", "ideation"),
        ("won't need the appointment, I won't be alive by then", "intent"),
        ("lost my sh streak. day 0 again", "self_harm"),
        ("the dark thoughts came back after my dad's anniversary", "ideation"),
        ("me corté más hondo que nunca", "self_harm"),
        ("lol if i got hit by a bus tomorrow i'd say thank you", "passive_ideation"),
        ("Cuiden a mi gato porfa. De esta yo no regreso", "intent"),
        ("se me acabó la racha. iba en 3 meses sin cortarme", "self_harm"),
        ("ya no quiero vivir en este mundo", "passive_ideation"),
        ("me metí en el carro con la manguera del escape hacia adentro", "plan_or_means"),
        ("tengo las muñecas vendadas, me pueden canalizar en el otro brazo?", "self_harm"),
        ("no me siento segura con las pistolas de mi esposo en la casa", "plan_or_means"),
    ],
)
def test_new_phrasings_alert_in_their_category(text: str, category: str) -> None:
    found = screen(text)
    assert found.alert and found.category == category, found


def test_thousands_of_texts_alert_exactly_for_the_crisis_ones() -> None:
    # The speed is measured by scripts/screening_rate.py (a benchmark, not a timed test).
    texts = [f"text {n}: i really want to honestly die, kms" for n in range(1500)]
    texts += [f"running {n} min late, the traffic is killing me" for n in range(1500)]
    found = [SCREENER.screen(t) for t in texts]
    assert [f.alert for f in found] == [True] * 1500 + [False] * 1500


# ------------------------------------------------------------------ the rule file


def test_the_shipped_rule_file_loads_with_stable_ids() -> None:
    rules = load_rules(RULES)
    assert len(rules.rules) >= 30 and len(SCREENER) == len(rules.rules)
    assert {r.category for r in rules.rules} == {
        "plan_or_means",
        "intent",
        "ideation",
        "self_harm",
        "passive_ideation",
    }
    assert {r.language for r in rules.rules} == {"en", "es"}
    assert all(r.id.split(".")[0] == r.language for r in rules.rules)


BAD = """\
lists:
  meds: []
rules:
  - id: en.one
    category: ideation
    pattern: want to die
  - id: en.one
    category: ideation
    pattern: kms
  - id: en.two
    category: sadness
    pattern: blue
  - id: en.three
    category: intent
    pattern: "(going to"
  - id: en.four
    category: intent
    patterns: []
  - id: fr.five
    category: intent
    pattern: adieu
  - id: en.six
    category: intent
    colour: red
    pattern: "@meds"
"""


def test_every_problem_in_the_rule_file_is_reported_with_its_line() -> None:
    with pytest.raises(RuleFileError) as caught:
        read_rules(BAD, "crisis_rules.yaml")
    problems = caught.value.problems
    assert problems == [
        "crisis_rules.yaml:2: list meds: empty list",
        "crisis_rules.yaml:7: id 'en.one' is used twice (first on line 4)",
        "crisis_rules.yaml:11: unknown category 'sadness' (expected one of plan_or_means, intent, "
        "ideation, self_harm, passive_ideation)",
        "crisis_rules.yaml:15: pattern '(going to': '(' is never closed",
        "crisis_rules.yaml:18: patterns: empty list",
        "crisis_rules.yaml:19: id 'fr.five': expected a language (en, es), a dot and lower-case words "
        "joined by dots or underscores, like en.plan.pills_saved",
        "crisis_rules.yaml:24: unknown key 'colour' (expected id, category, pattern, patterns)",
        "crisis_rules.yaml:25: pattern '@meds': no list called 'meds'",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("rules: [\n", "crisis_rules.yaml:2: not valid YAML"),
        ("- just a list\n", "crisis_rules.yaml:1: expected `rules:` and its list"),
        ("lists: {}\n", "crisis_rules.yaml:1: no `rules:`"),
        ("rules: []\n", "crisis_rules.yaml:1: rules: empty list"),
        ("rules:\n  - {id: en.x, pattern: kms}\n", "crisis_rules.yaml:2: rule without `category:`"),
        ("rules:\n  - {id: en.x, category: intent}\n", "crisis_rules.yaml:2: give either `pattern:`"),
        (
            "rules: [{id: en.a, category: intent, pattern: x}]\nnope: 1\n",
            "crisis_rules.yaml:2: unknown section",
        ),
    ],
)
def test_rule_file_errors_name_the_file_and_line(content: str, message: str) -> None:
    with pytest.raises(RuleFileError) as caught:
        read_rules(content, "crisis_rules.yaml")
    assert caught.value.problems[0].startswith(message), caught.value.problems


def test_a_missing_rule_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match=r"^nothere\.yaml: cannot read crisis rules"):
        load_rules(tmp_path / "nothere.yaml")


@pytest.mark.parametrize(
    "text",
    ["me corté con las tijeras de podar a propósito", "deliberately burned my hand on the stove"],
)
def test_an_injury_said_to_be_deliberate_alerts_whatever_idiom_it_sits_in(text: str) -> None:
    found = screen(text)
    assert found.alert and found.category == "self_harm"


@pytest.mark.parametrize(
    "text",
    [
        "Dr. asked if I've had any thoughts of death or hurting myself. Answer is no, just sleep problems.",
        "la psiquiatra me preguntó si tenía ideas de morir y le dije que no, estoy mucho mejor",
    ],
)
def test_a_question_put_to_the_patient_and_answered_no_is_flagged_not_alerted(text: str) -> None:
    found = screen(text)
    assert not found.alert and found.negated


def test_a_question_answered_no_but_then_yes_still_alerts() -> None:
    assert screen("Dr asked if I had thoughts of killing myself and I said no but honestly I do").alert


@pytest.mark.parametrize(
    "text",
    ["no quiero q me salven esta vez. lo voy a hacer bien", "No need to confirm. I won't be here Thursday."],
)
def test_a_denial_in_one_sentence_does_not_reach_what_the_writer_says_in_the_next(text: str) -> None:
    assert screen(text).alert


def test_a_denial_still_answers_a_questionnaire_label_told_across_sentences() -> None:
    assert not screen("Not at all on the last one. Several days on the sleep one.").alert


def test_a_no_said_with_emphasis_answers_the_item_named_before_it() -> None:
    found = screen("la pregunta de los pensamientos de muerte, obvio no, ando feliz")
    assert not found.alert and found.negated
    assert screen("quiero morir. claro").alert
