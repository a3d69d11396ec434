"""Edit cases in the CounterFact shape: a rewrite prompt, paraphrases, neighbourhood prompts.

Two sources: the synthetic world of :mod:`support.editing.world` (ground truth known, one case per
person, up to 10,000 edits with distinct subjects) and real geography for SmolLM2 (GeoNames cities and countryinfo's
countries, :func:`geo_facts`), where the new object is another object of the same relation, as in
CounterFact's recipe.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

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


def world_cases(spec: world.WorldSpec, role: str = "edit", n: int | None = None, seed: int = 0,
                n_neighbours: int = 5) -> list[EditCase]:
    """Edits of the people of ``role`` ("edit", "calibration" or "never_edited"), one fact each, seeded order.

    Each person contributes one of their facts, so no two cases share a subject. Neighbourhood
    prompts ask the same relation of never-edited people with the same true object, so no edit
    ever rewrites a neighbour. For "never_edited" the cases are probes: facts no edit touches.
    """
    people = world.roles(spec)
    if role not in people:
        raise ValueError(f"role={role!r} must be one of {tuple(people)}")
    n = len(people[role]) if n is None else n
    if n > len(people[role]):
        raise ValueError(f"{n} {role} cases asked of the world {spec.name!r}, which has {len(people[role])} "
                         f"{role} people (one case each); ask for at most {len(people[role])}")
    rng = random.Random(f"world-cases-{role}-{seed}")
    facts_of: dict[str, list[world.Fact]] = {}
    for fact in world.facts(spec):
        facts_of.setdefault(fact.subject, []).append(fact)
    never = set(people["never_edited"])
    by_object = world.subjects_by_object(tuple(f for f in world.facts(spec) if f.subject in never))
    order = list(people[role])
    rng.shuffle(order)  # then the first n cases of a seed are the same whatever n is
    cases = []
    for subject in order[:n]:
        fact = rng.choice(facts_of[subject])
        objects = world.RELATIONS[fact.relation][1]
        new = rng.choice([o for o in objects if o != fact.obj])
        others = [s for s in by_object.get((fact.relation, fact.obj), []) if s != subject]
        neighbour_facts = [world.Fact(s, fact.relation, fact.obj)
                           for s in rng.sample(others, min(n_neighbours, len(others)))]
        cases.append(EditCase(fact.subject, fact.relation, fact.prompt(0), " " + new, " " + fact.obj,
                              (fact.prompt(1), fact.prompt(2)), tuple(f.prompt(0) for f in neighbour_facts),
                              alternatives=tuple(" " + o for o in objects)))
    return cases


#: relation -> (rewrite prompt, paraphrase, paraphrase), each with {s} for the subject and ending
#: right before the object.
GEO_TEMPLATES: dict[str, tuple[str, str, str]] = {
    "city-country": ("{s} is a city in", "{s} is located in the country of", "The country where {s} lies is"),
    "us-city-state": ("{s} is a city in the state of", "{s} lies in the US state of",
                      "The state in which {s} is located is"),
    "province-country": ("{s} is a province of", "{s} is an administrative region of",
                         "The country that {s} belongs to is"),
    "continent": ("The continent of {s} is", "{s} is located on the continent of", "{s} is a country in"),
    "official-language": ("The official language of {s} is", "In {s}, the official language is",
                          "People in {s} officially speak"),
    "currency": ("The currency of {s} is the", "In {s}, people pay with the", "The money used in {s} is the"),
}


def _continent(record: dict) -> str | None:
    """countryinfo's region, with the Americas split into North and South America."""
    if record.get("region") == "Americas":
        return "South America" if record.get("intermediateregion") == "South America" else "North America"
    return record.get("region") or None


@lru_cache(maxsize=4)
def geo_facts(min_city_population: int = 200_000, min_us_city_population: int = 50_000
              ) -> tuple[tuple[str, str, str], ...]:
    """(relation, subject, true object) from GeoNames cities and countryinfo's countries.

    Names that occur twice among the cities or provinces (two Springfields) or that also name a
    country are left out, so every subject has one true object per relation.
    """
    from babel import Locale
    from babel.numbers import get_currency_name

    english = Locale("en")
    records = resources.countries()
    country_names = {r["name"] for r in records}
    cities = resources.geonames_cities()
    city_count = Counter(c["name"] for c in cities)
    province_count = Counter(p for r in records for p in r["provinces"])
    facts = []
    for city in cities:
        if city_count[city["name"]] > 1 or city["name"] in country_names or not city["country"]:
            continue
        if city["population"] >= min_city_population:
            facts.append(("city-country", city["name"], city["country"]))
        if city["us_state"] and city["population"] >= min_us_city_population:
            facts.append(("us-city-state", city["name"], city["us_state"]))
    for record in records:
        name = record["name"]
        facts += [("province-country", p, name) for p in record["provinces"]
                  if province_count[p] == 1 and p not in country_names and p != name]
        continent = _continent(record)
        if continent:
            facts.append(("continent", name, continent))
        if record.get("languages") and record["languages"][0] in english.languages:
            facts.append(("official-language", name, english.languages[record["languages"][0]]))
        if record.get("currencies"):
            facts.append(("currency", name, get_currency_name(record["currencies"][0], locale="en")))
    return tuple(facts)


def geo_candidates(n: int, seed: int = 0, n_neighbours: int = 5, min_object_count: int = 10) -> list[EditCase]:
    """Up to ``n`` CounterFact-style cases from :func:`geo_facts` (objects seen >= ``min_object_count`` times).

    CounterFact's recipe: the new object is another object of the same relation, and the
    neighbourhood prompts ask the same relation of other subjects that share the true object.
    """
    facts = geo_facts()
    subjects: dict[tuple[str, str], list[str]] = {}
    for relation, subject, obj in facts:
        subjects.setdefault((relation, obj), []).append(subject)
    objects: dict[str, list[str]] = {}
    for (relation, obj), subs in subjects.items():
        if len(subs) >= min_object_count:
            objects.setdefault(relation, []).append(obj)
    rng = random.Random(f"geo-cases-{seed}")
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
        prompt, *paraphrases = GEO_TEMPLATES[relation]
        neighbours = tuple(prompt.format(s=s) for s in rng.sample(others, min(n_neighbours, len(others))))
        cases.append(EditCase(subject, relation, prompt.format(s=subject), " " + new, " " + obj,
                              tuple(t.format(s=subject) for t in paraphrases), neighbours,
                              alternatives=tuple(" " + o for o in pool)))
        if len(cases) == n:
            break
    return cases


def capital_questions(n: int, seed: int = 0, n_choices: int = 4) -> list[dict]:
    """``n`` multiple-choice questions "What is the capital of X?" (``input``, ``target_scores``).

    The distractors are other countries' capitals. No edit relation asks for a capital, so these
    measure knowledge next to the edits rather than the edits themselves.
    """
    pairs = sorted({(r["name"], r["capital"]) for r in resources.countries()
                    if isinstance(r.get("capital"), str) and r["capital"]})  # a few list several; left out
    capitals = sorted({capital for _, capital in pairs})
    rng = random.Random(f"capitals-{seed}")
    rng.shuffle(pairs)
    questions = []
    for country, capital in pairs[:n]:
        options = [capital] + rng.sample([c for c in capitals if c != capital], n_choices - 1)
        rng.shuffle(options)
        questions.append({"input": f"What is the capital of {country}?",
                          "target_scores": {o: int(o == capital) for o in options}})
    return questions
