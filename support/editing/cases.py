"""Edit cases in the CounterFact shape: a rewrite prompt, paraphrases, neighbourhood prompts.

Two sources: the synthetic world of :mod:`support.editing.world` (ground truth known, any number of
cases up to its 10,000 facts) and BIG-bench ``qa_wikidata`` (real Wikidata facts for SmolLM2),
where the new object is another object of the same relation, as in CounterFact's recipe.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from .. import resources
from . import world


@dataclass(frozen=True)
class EditCase:
    """One counterfactual edit and the prompts that score it."""

    subject: str
    relation: str
    prompt: str  # rewrite prompt, containing the subject, ending right before the object
    target_new: str
    target_true: str
    paraphrases: tuple[str, ...] = ()
    neighbours: tuple[str, ...] = ()  # prompts about other subjects whose true object is target_true
    known: bool = True  # whether the unedited model ranked target_true first among the relation's objects
    alternatives: tuple[str, ...] = field(default=(), compare=False)  # the relation's objects (for top-1 recall)


def world_cases(n: int, seed: int = 0, n_neighbours: int = 5, n_subjects: int = 1250) -> list[EditCase]:
    """``n`` edits of distinct facts of the synthetic world, in a seeded random order."""
    facts = list(world.facts(n_subjects))
    if n > len(facts):
        raise ValueError(f"num_edits={n} exceeds the {len(facts)} facts of the synthetic world")
    rng = random.Random(f"world-cases-{seed}")
    rng.shuffle(facts)
    by_object = world.subjects_by_object(tuple(facts))
    cases = []
    for fact in facts[:n]:
        objects = world.RELATIONS[fact.relation][1]
        new = rng.choice([o for o in objects if o != fact.obj])
        others = [s for s in by_object[(fact.relation, fact.obj)] if s != fact.subject]
        neighbour_facts = [world.Fact(s, fact.relation, fact.obj)
                           for s in rng.sample(others, min(n_neighbours, len(others)))]
        cases.append(EditCase(fact.subject, fact.relation, fact.prompt(0), " " + new, " " + fact.obj,
                              (fact.prompt(1), fact.prompt(2)), tuple(f.prompt(0) for f in neighbour_facts),
                              alternatives=tuple(" " + o for o in objects)))
    return cases


#: qa_wikidata relation (the phrase before the subject) -> paraphrase templates with {s}.
WIKIDATA_PARAPHRASES: dict[str, tuple[str, ...]] = {
    "The country of": ("{s} is located in the country of", "{s} can be found in"),
    "The native language of": ("{s} grew up speaking", "The mother tongue of {s} is"),
    "The language of": ("{s} is written in", "The language used in {s} is"),
    "The religion of": ("{s} follows the religion of", "By faith, {s} is"),
    "The instrument of": ("{s} plays the", "The musical instrument of {s} is the"),
    "The official language of": ("In {s}, the official language is", "People in {s} officially speak"),
    "The capital of": ("The capital city of {s} is", "{s}'s capital is"),
    "The continent of": ("{s} is located on the continent of", "{s} is part of"),
}
_WIKIDATA_PATTERN = re.compile(r"^(The [\w ]+? of) (.+) is$")


def wikidata_facts() -> list[tuple[str, str, str]]:
    """(relation phrase, subject, true object) of the qa_wikidata facts in the relations above."""
    out = []
    for example in resources.bigbench_examples("qa_wikidata"):
        match = _WIKIDATA_PATTERN.match(example["input"])
        target = example["target"]
        target = target if isinstance(target, str) else target[0]
        if match and match.group(1) in WIKIDATA_PARAPHRASES and target.strip():
            out.append((match.group(1), match.group(2), target.strip()))
    return out


def wikidata_candidates(n: int, seed: int = 0, n_neighbours: int = 5, min_object_count: int = 10) -> list[EditCase]:
    """Up to ``n`` CounterFact-style cases from qa_wikidata (objects seen >= ``min_object_count`` times)."""
    facts = wikidata_facts()
    subjects: dict[tuple[str, str], list[str]] = {}
    for relation, subject, obj in facts:
        subjects.setdefault((relation, obj), []).append(subject)
    objects = {}
    for (relation, obj), subs in subjects.items():
        if len(subs) >= min_object_count:
            objects.setdefault(relation, []).append(obj)
    rng = random.Random(f"wikidata-cases-{seed}")
    order = list(range(len(facts)))
    rng.shuffle(order)
    cases, seen = [], set()
    for index in order:
        relation, subject, obj = facts[index]
        pool = objects.get(relation, [])
        if obj not in pool or len(pool) < 2 or subject in seen:
            continue
        seen.add(subject)
        new = rng.choice([o for o in pool if o != obj])
        others = [s for s in subjects[(relation, obj)] if s != subject]
        neighbours = tuple(f"{relation} {s} is" for s in rng.sample(others, min(n_neighbours, len(others))))
        paraphrases = tuple(t.format(s=subject) for t in WIKIDATA_PARAPHRASES[relation])
        cases.append(EditCase(subject, relation, f"{relation} {subject} is", " " + new, " " + obj, paraphrases,
                              neighbours, alternatives=tuple(" " + o for o in pool)))
        if len(cases) == n:
            break
    return cases
