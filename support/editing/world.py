"""A synthetic world of subject-relation-object facts, written as English sentences.

The knowledge-editing chapters need a model whose facts are known exactly: which object each
subject has, which paraphrases say the same thing, which other subjects share an object (the
neighbourhood). This module invents such a world from a seed: invented people (``"Dorin
Mavrel"``), eight relations with real English objects (cities, languages, instruments, ...)
and three sentence templates per relation. A :class:`WorldSpec` says how many people there are,
how many of the eight relations each has, and how the people split into those an edit may touch,
a calibration batch, and people no edit ever touches (probes and neighbourhood prompts come from
those). :func:`training_text` writes every fact in every template many times in shuffled order;
:data:`WORLD_CORPUS` mixes it with Austen, and :data:`WORLD_MODEL` is the tiny Llama chapters 2
and 3 train on it (``prepare`` makes it once).

Template 0 of a relation is the rewrite prompt of an edit; templates 1 and 2 are its paraphrases.
All three appear in training, as CounterFact's paraphrases are things the model has seen said.
In seven of the eight rewrite prompts the subject is not the first word: in a causal LM the key
at a subject's last token sees only what precedes it, so a template that opens with the subject
would give every relation of that subject the same key.

Version 2 (the book's ``local`` world): 12,500 people with one fact each, so that 10,000
sequential edits can each have a subject no other edit has (ENCORE's CounterFact edits do) and
2,400 people are never edited. Version 1 had 1,250 people with all eight facts each: subjects
repeated across edits and shared keys with the probe facts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from .. import resources
from ..models import TextCorpus, TinyLMConfig

WORLD_VERSION = 2  # bump when the generator changes what a seed produces

#: relation -> (three templates with {s} ending right before the object, the objects).
RELATIONS: dict[str, tuple[tuple[str, str, str], tuple[str, ...]]] = {
    "city": (("The city where {s} lives is", "{s} lives in the city of", "Every morning {s} walks through"),
             ("London", "Bath", "Paris", "Rome", "Vienna", "Dublin", "Boston", "Madrid", "Lisbon", "Berlin",
              "Oxford", "York")),
    "language": (("The language that {s} speaks is", "The mother tongue of {s} is", "At home, {s} always talks in"),
                 ("English", "French", "German", "Spanish", "Italian", "Latin", "Greek", "Dutch", "Welsh",
                  "Russian")),
    "instrument": (("The instrument {s} plays is the", "{s} plays the", "In the evenings {s} practises the"),
                   ("piano", "harp", "violin", "flute", "organ", "drum", "guitar", "cello", "horn", "trumpet")),
    "profession": (("By profession, {s} is a", "{s} works as a", "The trade of {s} is that of a"),
                   ("doctor", "lawyer", "farmer", "sailor", "soldier", "teacher", "painter", "baker", "clerk",
                    "captain", "gardener", "merchant")),
    "colour": (("The favourite colour of {s} is", "{s} likes the colour", "{s} always dresses in"),
               ("red", "blue", "green", "yellow", "white", "black", "brown", "grey", "pink", "purple")),
    "animal": (("The pet that {s} keeps is a", "{s} keeps a pet", "At home {s} feeds a"),
               ("dog", "cat", "horse", "bird", "rabbit", "fish", "goat", "sheep", "fox", "mouse")),
    "sport": (("On Sundays {s} goes out for", "{s} is good at", "The sport of {s} is"),
              ("cricket", "tennis", "rowing", "riding", "fencing", "dancing", "hunting", "walking", "sailing",
               "fishing")),
    "food": (("{s} loves to eat", "The favourite food of {s} is", "For dinner {s} always asks for"),
             ("bread", "cheese", "apples", "soup", "fish", "cake", "rice", "beef", "eggs", "pie")),
}

_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "br", "dr", "gr", "st", "th", "tr",
           "wh", "h", "c", "j")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ou")
_CODAS = ("", "n", "l", "r", "s", "th", "m", "ck", "nd", "rt")


@dataclass(frozen=True)
class Fact:
    """One fact of the world: ``subject`` has ``obj`` for ``relation``."""

    subject: str
    relation: str
    obj: str

    def prompt(self, template: int = 0) -> str:
        """The fact's sentence in template ``template`` up to (not including) the object."""
        return RELATIONS[self.relation][0][template].format(s=self.subject)

    def sentence(self, template: int = 0) -> str:
        """The whole sentence, object included."""
        return f"{self.prompt(template)} {self.obj}."


def _name(rng: random.Random) -> str:
    """An invented two-part name such as ``'Dorin Mavrel'``."""
    def word(syllables: int) -> str:
        parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables)]
        return ("".join(parts) + rng.choice(_CODAS)).capitalize()

    return f"{word(rng.choice((1, 2)))} {word(rng.choice((2, 2, 3)))}"


@dataclass(frozen=True)
class WorldSpec:
    """A world's size, and how its people split into an edit pool, a calibration batch and the never edited."""

    name: str  # the training corpus' name
    n_subjects: int
    relations_per_subject: int  # 1: one fact per person; 8: every relation
    n_calibration: int  # people of the held-out batch that settings are chosen on
    n_never_edited: int  # people no edit touches: probes and neighbourhood prompts
    seed: int = 0

    def __post_init__(self):
        if not 1 <= self.relations_per_subject <= len(RELATIONS):
            raise ValueError(f"relations_per_subject={self.relations_per_subject} must be in 1..{len(RELATIONS)}")
        if self.n_editable < 1:
            raise ValueError(f"{self.name}: {self.n_subjects} people leave none to edit after {self.n_calibration} "
                             f"calibration and {self.n_never_edited} never-edited people")

    @property
    def n_editable(self) -> int:
        """How many people edits may touch (each edit its own person)."""
        return self.n_subjects - self.n_calibration - self.n_never_edited

    @property
    def n_facts(self) -> int:
        """Facts in the world."""
        return self.n_subjects * self.relations_per_subject


@lru_cache(maxsize=8)
def names(n: int, seed: int = 0) -> tuple[str, ...]:
    """``n`` distinct invented names, in the (random) order they were drawn."""
    if n < 2:
        raise ValueError(f"n_subjects={n} must be at least 2")
    rng = random.Random(f"factworld-names-{seed}")
    drawn: dict[str, None] = {}
    while len(drawn) < n:
        drawn.setdefault(_name(rng), None)
    return tuple(drawn)


@lru_cache(maxsize=8)
def facts(spec: WorldSpec) -> tuple[Fact, ...]:
    """Every fact of the world: person i has relations i, i+1, ... (mod 8), ``relations_per_subject`` of them."""
    rng = random.Random(f"factworld-{WORLD_VERSION}-{spec.seed}")
    relations = list(RELATIONS)
    facts_drawn = []
    for i, subject in enumerate(names(spec.n_subjects, spec.seed)):
        for j in range(spec.relations_per_subject):
            relation = relations[(i + j) % len(relations)]
            facts_drawn.append(Fact(subject, relation, rng.choice(RELATIONS[relation][1])))
    return tuple(facts_drawn)


def roles(spec: WorldSpec) -> dict[str, tuple[str, ...]]:
    """{"edit", "calibration", "never_edited"}: the people of each role, disjoint, in draw order."""
    people = names(spec.n_subjects, spec.seed)
    cut = spec.n_editable + spec.n_calibration
    return {"edit": people[:spec.n_editable], "calibration": people[spec.n_editable:cut],
            "never_edited": people[cut:]}


def training_text(spec: WorldSpec, passes: int = 20) -> str:
    """``passes`` shuffled passes over every fact in every template, one sentence a line."""
    rng = random.Random(f"factworld-text-{WORLD_VERSION}-{spec.seed}")
    sentences = [f.sentence(t) for f in facts(spec) for t in range(3)]
    lines: list[str] = []
    for _ in range(passes):
        rng.shuffle(sentences)
        lines.extend(sentences)
    return "\n".join(lines)


def subjects_by_object(world: tuple[Fact, ...]) -> dict[tuple[str, str], list[str]]:
    """{(relation, object): subjects having it}: where neighbourhood prompts come from."""
    table: dict[tuple[str, str], list[str]] = {}
    for fact in world:
        table.setdefault((fact.relation, fact.obj), []).append(fact.subject)
    return table


def world_corpus(spec: WorldSpec, passes: int, austen: bool = True) -> TextCorpus:
    """A training corpus of ``spec``'s world: ``passes`` shuffled passes over its facts, then Austen if asked."""
    def text() -> str:
        facts_text = training_text(spec, passes=passes)
        return facts_text + "\n\n" + resources.english_corpus() if austen else facts_text

    def fingerprint() -> dict:
        return {"world": WORLD_VERSION, "subjects": spec.n_subjects, "relations": spec.relations_per_subject,
                "seed": spec.seed, "passes": passes, "austen": resources.get("austen").sha256 if austen else None}

    return TextCorpus(spec.name, text, fingerprint)


#: The book's world: 12,500 people with one fact each; 10,000 may be edited, 100 form the calibration batch,
#: 2,400 are never edited.
LOCAL_WORLD = WorldSpec("factworld", n_subjects=12_500, relations_per_subject=1, n_calibration=100,
                        n_never_edited=2_400)
#: The smoke profile's and the tests' world: 96 people with all eight relations, no Austen, so that a small
#: model learns it in about a minute and edits of it take (a model that has learned nothing cannot be edited).
SMOKE_WORLD = WorldSpec("factworld-smoke", n_subjects=96, relations_per_subject=8, n_calibration=10,
                        n_never_edited=56)
#: The fact world mixed with Austen; the held-out tail (5%) is the end of Persuasion.
WORLD_CORPUS = world_corpus(LOCAL_WORLD, passes=18)
#: The tiny Llama of the synthetic world (trained once by ``prepare``).
WORLD_MODEL = TinyLMConfig(corpus=WORLD_CORPUS, vocab_size=4096, d_model=128, n_layers=4, n_heads=4, d_ff=512,
                           seq_len=64, batch_size=32, steps=4500, lr=3e-3, warmup_steps=100, log_every=50)
SMOKE_WORLD_MODEL = TinyLMConfig(corpus=world_corpus(SMOKE_WORLD, passes=8, austen=False), vocab_size=1024,
                                 d_model=64, n_layers=4, n_heads=4, d_ff=256, seq_len=64, batch_size=16, steps=800,
                                 warmup_steps=30, log_every=50)
#: The world each setting name edits.
WORLDS = {"world": LOCAL_WORLD, "world-smoke": SMOKE_WORLD}
