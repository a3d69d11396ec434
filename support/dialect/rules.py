"""A deterministic, rule-based Standard American English -> African American English converter (arXiv 2503.04099).

The paper converts questions with an LLM given a persona and thirteen linguistic rules, then a
regex post-pass. Here each of the thirteen is a small named function on a sentence, applied at
each place it matches with its own probability (a seeded generator decides, so a seed fixes the
output), followed by the same post-pass. No part-of-speech tagger: every rule matches surface
patterns narrow enough to be right most of the time (subject pronouns, auxiliaries, closed word
lists), and its precision and recall are measured on Multi-VALUE's eWAVE example pairs rather
than assumed. What a pattern cannot see (a noun-phrase subject before a copula, an irregular
verb outside the lists) it leaves alone: the converter under-applies rather than mangles.

The rules (the paper's list) and what each matches here:

- ``null_copula``: is/are (or 's/'re) after he, she, they, we, you, before a word ("she is smart"
  -> "she smart"); "I am" and "it is" keep their copula, as AAE does.
- ``negative_concord``: any/anything/anybody/anyone/anywhere after a negation in the same clause
  -> no/nothing/nobody/no one/nowhere ("don't want any help" -> "don't want no help").
- ``negative_inversion``: a sentence-initial negative subject before a modal: "Nobody can stop
  him" -> "Can't nobody stop him".
- ``possessive_s``: a name's or noun's possessive 's before a lowercase word ("my cousin's bike"
  -> "my cousin bike"); pronoun contractions (it's, he's, that's, ...) are left alone.
- ``habitual_be``: is/are + always/usually/often + V-ing -> always/usually/often be V-ing.
- ``stressed_been``: has/have been -> BEEN ("she has been married" -> "she BEEN married").
- ``preterite_had``: a subject pronoun + a common irregular past verb -> had + that verb
  ("they went" -> "they had went").
- ``embedded_inversion``: wonder/ask/know + if/whether + subject + auxiliary -> the auxiliary
  before the subject ("I wonder if he is home" -> "I wonder is he home").
- ``aint``: isn't, aren't, am not, hasn't, haven't, didn't -> ain't.
- ``talkin_bout``: talking about -> talkin' 'bout.
- ``tryna``: trying to -> tryna.
- ``existential_it``: existential there is/there's/there are -> it's.
- ``g_dropping``: -ing -> -in' on words of more than four letters outside a list of -ing nouns.

Post-pass (as the paper's): going to -> gonna, because -> cuz, about -> bout, and have -> got
after a subject pronoun before a determiner ("I have a car" -> "I got a car"); isn't -> ain't is
the ``aint`` rule. The authors' LLM conversion is the ``paper`` path; this converter is the
book's stand-in for it, named as such in the chapter.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

SUBJECT_WORDS = "he|she|they|we|you"  # the subject pronouns whose copula AAE drops (not I, not it)
SUBJECTS = rf"(?:{SUBJECT_WORDS})"
AUXILIARY_WORDS = "is|are|was|were|can|could|will|would|should|do|does|did|has|have|had"
MODALS = ("can", "could", "will", "would", "should", "might", "must")
PAST_TO_BASE = {"went": "go", "came": "come", "saw": "see", "got": "get", "took": "take", "told": "tell",
                "said": "say", "knew": "know", "gave": "give", "made": "make", "left": "leave", "found": "find",
                "thought": "think", "brought": "bring", "bought": "buy", "ran": "run", "ate": "eat", "wrote": "write",
                "sat": "sit", "stood": "stand", "did": "do", "had": "have"}
IRREGULAR_PASTS = tuple(p for p in PAST_TO_BASE if p not in ("did", "had"))
WH_WORDS = "what|where|why|how|who|when|which"
ING_NOUNS = frozenset((
    "thing", "something", "nothing", "anything", "everything", "king", "ring", "sing", "bring", "string", "spring",
    "swing", "sting", "wing", "morning", "evening", "during", "ceiling", "building", "wedding", "meeting",
    "feeling", "pudding", "clothing", "sibling", "darling", "earring", "offspring", "viking"))
CONTRACTED_PRONOUNS = frozenset(("it", "he", "she", "that", "there", "what", "who", "where", "here", "let", "how",
                                 "when", "why", "this"))
NEGATION = r"(?:n't|not|never|no|nobody|nothing|none)"
NEGATIVE_FORMS = {"any": "no", "anything": "nothing", "anybody": "nobody", "anyone": "no one",
                  "anywhere": "nowhere"}


def match_case(source: str, target: str) -> str:
    """``target`` capitalised like ``source``'s first letter."""
    return target[:1].upper() + target[1:] if source[:1].isupper() else target


def sub(pattern: str, replace: Callable[[re.Match], str], text: str, keep: Callable[[], bool]) -> str:
    """re.sub of a case-insensitive ``pattern`` where each match is replaced only if ``keep()`` says so."""
    return re.sub(pattern, lambda m: replace(m) if keep() else m.group(0), text, flags=re.IGNORECASE)


def null_copula(text: str, keep) -> str:
    """Drop is/are ('s/'re) after he/she/they/we/you before a following word."""
    text = sub(rf"\b({SUBJECTS})\s+(?:is|are)\s+(?!not\b|n't)(?=[A-Za-z])", lambda m: m.group(1) + " ", text, keep)
    return sub(rf"\b({SUBJECTS})(?:'s|'re|’s|’re)\s+(?!not\b)(?=[A-Za-z])", lambda m: m.group(1) + " ", text, keep)


def negative_concord(text: str, keep) -> str:
    """any-words after a negation in the same clause become their negative forms."""
    def clause(m: re.Match) -> str:
        return m.group(1) + re.sub(r"\b(any(?:thing|body|one|where)?)\b",
                                   lambda w: match_case(w.group(1), NEGATIVE_FORMS[w.group(1).lower()])
                                   if keep() else w.group(0), m.group(2), flags=re.IGNORECASE)
    return re.sub(rf"(\b\w*{NEGATION}\b)([^.,;:!?]*)", clause, text, flags=re.IGNORECASE)


def negative_inversion(text: str, keep) -> str:
    """Sentence-initial Nobody/Nothing/No one + modal or past verb -> Modal-n't / Didn't + nobody + (base) verb."""
    modals = "|".join(MODALS)

    def invert(m: re.Match) -> str:
        verb = m.group(3).lower()
        if verb in MODALS:
            negated, rest = {"will": "won't", "can": "can't"}.get(verb, verb + "n't"), ""
        else:  # a past verb: did-support, the verb in its base form
            base = PAST_TO_BASE.get(verb) or (verb[:-3] + "y" if verb.endswith("ied") else verb[:-2])
            negated, rest = "didn't", " " + base
        return m.group(1) + match_case(m.group(2), negated) + " " + m.group(2).lower() + rest + " "

    pasts = "|".join(IRREGULAR_PASTS)
    return sub(rf"(^|[.!?]\s+)(nobody|nothing|no one)\s+({modals}|{pasts}|\w+[wy]ed|\w+ied)\s+", invert, text, keep)


def possessive_s(text: str, keep) -> str:
    """A noun's possessive 's before a lowercase word is dropped (pronoun contractions are not touched)."""
    def drop(m: re.Match) -> str:
        return m.group(1) + " " if m.group(1).lower() not in CONTRACTED_PRONOUNS else m.group(0)
    return sub(r"\b([A-Za-z]+)(?:'s|’s)\s+(?=[a-z])", drop, text, keep)


def habitual_be(text: str, keep) -> str:
    """is/are + always/usually/often + V-ing -> always/usually/often be V-ing."""
    return sub(r"\b(?:is|are)\s+(always|usually|often)\s+(\w+ing)\b", lambda m: f"{m.group(1)} be {m.group(2)}",
                text, keep)


def stressed_been(text: str, keep) -> str:
    """has/have been -> BEEN (remote past, stressed)."""
    return sub(r"\b(?:has|have)\s+been\b", lambda m: "BEEN", text, keep)


def preterite_had(text: str, keep) -> str:
    """A subject pronoun + a common irregular past verb -> the pronoun + had + the verb."""
    pasts = "|".join(IRREGULAR_PASTS)
    return sub(rf"\b(i|{SUBJECT_WORDS})\s+({pasts})\b", lambda m: f"{m.group(1)} had {m.group(2)}", text, keep)


def embedded_inversion(text: str, keep) -> str:
    """wonder/ask/know + if/whether (dropped) or a wh-word (kept) + subject + auxiliary -> the auxiliary first."""
    def invert(m: re.Match) -> str:
        wh = "" if m.group(2).lower() in ("if", "whether") else m.group(2) + " "
        return f"{m.group(1)} {wh}{m.group(4)} {m.group(3)}"

    return sub(rf"\b(wonder(?:ed|ing)?|ask(?:ed|ing)?|know)\s+(if|whether|{WH_WORDS})\s+(i|{SUBJECT_WORDS}|it)\s+"
                rf"({AUXILIARY_WORDS})\b", invert, text, keep)


def aint(text: str, keep) -> str:
    """isn't, aren't, am not, hasn't, haven't, didn't -> ain't."""
    return sub(r"\b(?:isn't|aren't|hasn't|haven't|didn't|isn’t|aren’t|hasn’t|haven’t|didn’t)|\bam not\b",
                lambda m: match_case(m.group(0), "ain't"), text, keep)


def talkin_bout(text: str, keep) -> str:
    """talking about -> talkin' 'bout."""
    return sub(r"\btalking\s+about\b", lambda m: match_case(m.group(0), "talkin' 'bout"), text, keep)


def tryna(text: str, keep) -> str:
    """trying to -> tryna."""
    return sub(r"\btrying\s+to\b", lambda m: match_case(m.group(0), "tryna"), text, keep)


def existential_it(text: str, keep) -> str:
    """Existential there is/there's/there are -> it's."""
    return sub(r"\bthere\s+(?:is|are)\b|\bthere(?:'s|’s)", lambda m: match_case(m.group(0), "it's"), text, keep)


def g_dropping(text: str, keep) -> str:
    """-ing -> -in' on words longer than four letters that are not -ing nouns ("going to" is left to the post-pass)."""
    def drop(m: re.Match) -> str:
        word = m.group(0)
        going_to = word.lower() == "going" and re.match(r"\s+to\b", m.string[m.end():])
        return word[:-1] + "'" if len(word) > 4 and word.lower() not in ING_NOUNS and not going_to else word
    return sub(r"\b[A-Za-z]+ing\b(?!')", drop, text, keep)


def post_pass(text: str) -> str:
    """The paper's regex post-pass: going to -> gonna, because -> cuz, about -> bout, have + determiner -> got."""
    text = re.sub(r"\bgoing\s+to\b", lambda m: match_case(m.group(0), "gonna"), text, flags=re.IGNORECASE)
    text = re.sub(r"\bbecause\b", lambda m: match_case(m.group(0), "cuz"), text, flags=re.IGNORECASE)
    text = re.sub(r"(?<!')\babout\b", lambda m: match_case(m.group(0), "bout"), text, flags=re.IGNORECASE)
    return re.sub(rf"\b(i|{SUBJECT_WORDS})\s+have\s+(?=(?:a|an|the|some|no|two|three|many|my|your|his|her|their)\b)",
                  lambda m: f"{m.group(1)} got ", text, flags=re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    """One dialect feature: its name, the function that applies it, and the probability each match is changed."""

    name: str
    apply: Callable[[str, Callable[[], bool]], str]
    probability: float = 1.0


# Order matters where rules overlap: negation before ain't (so "didn't ... any" still reads as
# negated), habitual be before the null copula (which would delete its is/are first), have been
# before ain't (haven't been), -ing last so that the word lists above still see "-ing".
RULES: tuple[Rule, ...] = (
    Rule("negative_inversion", negative_inversion),
    Rule("negative_concord", negative_concord),
    Rule("embedded_inversion", embedded_inversion),
    Rule("habitual_be", habitual_be),
    Rule("stressed_been", stressed_been),
    Rule("null_copula", null_copula),
    Rule("aint", aint),
    Rule("possessive_s", possessive_s),
    Rule("preterite_had", preterite_had),
    Rule("existential_it", existential_it),
    Rule("talkin_bout", talkin_bout),
    Rule("tryna", tryna),
    Rule("g_dropping", g_dropping),
)
RULE_NAMES = tuple(rule.name for rule in RULES)


def convert(text: str, rules: tuple[Rule, ...] = RULES, seed: int = 0, post: bool = True) -> str:
    """``text`` with each rule applied in turn (each match kept with the rule's probability), then the post-pass.

    Each rule draws from its own generator (seeded by ``seed`` and the rule's name), so leaving one rule
    out does not change which matches the others convert.
    """
    for rule in rules:
        text = rule.apply(text, _keeper(rule, seed))
    return post_pass(text) if post else text


def _keeper(rule: Rule, seed: int) -> Callable[[], bool]:
    """Whether to convert the next match: always at probability 1 (no generator made), else a draw from the
    rule's own generator."""
    if rule.probability >= 1.0:
        return lambda: True
    rng = np.random.default_rng([seed, zlib.crc32(rule.name.encode())])
    return lambda: bool(rng.random() < rule.probability)


def only(names: tuple[str, ...] | list[str], probability: float = 1.0) -> tuple[Rule, ...]:
    """The named rules (in the converter's order) at one probability."""
    unknown = set(names) - set(RULE_NAMES)
    if unknown:
        raise ValueError(f"unknown rules {sorted(unknown)}; the rules are {RULE_NAMES}")
    return tuple(Rule(r.name, r.apply, probability) for r in RULES if r.name in names)


def without(name: str) -> tuple[Rule, ...]:
    """Every rule but ``name`` (the one-rule-out ablation)."""
    if name not in RULE_NAMES:
        raise ValueError(f"unknown rule {name!r}; the rules are {RULE_NAMES}")
    return tuple(r for r in RULES if r.name != name)
