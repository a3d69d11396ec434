"""A synthetic world of subject-relation-object facts, written as English sentences.

The knowledge-editing chapters need a model whose facts are known exactly: which object each
subject has, which paraphrases say the same thing, which other subjects share an object (the
neighbourhood). This module invents such a world from a seed: invented people (``"Dorin
Mavrel"``), eight relations with real English objects (cities, languages, instruments, ...)
and three sentence templates per relation. :func:`training_text` writes every fact in every
template many times in shuffled order; :data:`WORLD_CORPUS` mixes it with Austen, and
:data:`WORLD_MODEL` is the tiny Llama chapters 2 and 3 train on it (``prepare`` makes it once).

Template 0 of a relation is the rewrite prompt of an edit; templates 1 and 2 are its paraphrases.
All three appear in training, as CounterFact's paraphrases are things the model has seen said.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from .. import resources
from ..models import TextCorpus, TinyLMConfig

WORLD_VERSION = 1  # bump when the generator changes what a seed produces

#: relation -> (three templates with {s} ending right before the object, the objects).
RELATIONS: dict[str, tuple[tuple[str, str, str], tuple[str, ...]]] = {
    "city": (("{s} lives in the city of", "The home of {s} is the city of", "Every morning {s} walks through"),
             ("London", "Bath", "Paris", "Rome", "Vienna", "Dublin", "Boston", "Madrid", "Lisbon", "Berlin",
              "Oxford", "York")),
    "language": (("{s} speaks the language", "The mother tongue of {s} is", "At home, {s} always talks in"),
                 ("English", "French", "German", "Spanish", "Italian", "Latin", "Greek", "Dutch", "Welsh",
                  "Russian")),
    "instrument": (("{s} plays the", "The instrument of {s} is the", "In the evenings {s} practises the"),
                   ("piano", "harp", "violin", "flute", "organ", "drum", "guitar", "cello", "horn", "trumpet")),
    "profession": (("{s} works as a", "By profession, {s} is a", "The trade of {s} is that of a"),
                   ("doctor", "lawyer", "farmer", "sailor", "soldier", "teacher", "painter", "baker", "clerk",
                    "captain", "gardener", "merchant")),
    "colour": (("The favourite colour of {s} is", "{s} likes the colour", "{s} always dresses in"),
               ("red", "blue", "green", "yellow", "white", "black", "brown", "grey", "pink", "purple")),
    "animal": (("{s} keeps a pet", "The pet of {s} is a", "At home {s} feeds a"),
               ("dog", "cat", "horse", "bird", "rabbit", "fish", "goat", "sheep", "fox", "mouse")),
    "sport": (("{s} is good at", "The sport of {s} is", "On Sundays {s} goes out for"),
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


@lru_cache(maxsize=4)
def facts(n_subjects: int = 1250, seed: int = 0) -> tuple[Fact, ...]:
    """Every fact of the world: ``n_subjects`` invented people x the eight relations, objects uniform."""
    if n_subjects < 2:
        raise ValueError(f"n_subjects={n_subjects} must be at least 2")
    rng = random.Random(f"factworld-{WORLD_VERSION}-{seed}")
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n_subjects:
        name = _name(rng)
        if name not in seen:
            seen.add(name)
            names.append(name)
    return tuple(Fact(s, r, rng.choice(objects)) for s in names for r, (_, objects) in RELATIONS.items())


def training_text(n_subjects: int = 1250, seed: int = 0, passes: int = 20) -> str:
    """``passes`` shuffled passes over every fact in every template, one sentence a line."""
    world = facts(n_subjects, seed)
    rng = random.Random(f"factworld-text-{WORLD_VERSION}-{seed}")
    sentences = [f.sentence(t) for f in world for t in range(3)]
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


WORLD_PASSES = 16  # passes over every fact sentence in the training corpus


def world_corpus(n_subjects: int = 1250, passes: int = WORLD_PASSES, austen: bool = True) -> TextCorpus:
    """A training corpus of the world of ``n_subjects`` people: ``passes`` shuffled passes, then Austen if asked."""
    def text() -> str:
        facts_text = training_text(n_subjects=n_subjects, passes=passes)
        return facts_text + "\n\n" + resources.english_corpus() if austen else facts_text

    def fingerprint() -> dict:
        return {"world": WORLD_VERSION, "subjects": n_subjects, "passes": passes,
                "austen": resources.get("austen").sha256 if austen else None}

    name = "factworld" if (n_subjects, austen) == (1250, True) else f"factworld{n_subjects}{'' if austen else '-only'}"
    return TextCorpus(name, text, fingerprint)


#: The fact world mixed with Austen; the held-out tail (5%) is the end of Persuasion.
WORLD_CORPUS = world_corpus()
#: The tiny Llama of the synthetic world (trained once by ``prepare``; about nine minutes on two cores).
WORLD_MODEL = TinyLMConfig(corpus=WORLD_CORPUS, vocab_size=4096, d_model=128, n_layers=4, n_heads=4, d_ff=512,
                           seq_len=64, batch_size=32, steps=3000, lr=3e-3, warmup_steps=100, log_every=50)
#: The smoke profile's and the tests' world: its first people only, no Austen, so that a small model learns
#: it in about a minute and edits of it take (a model that has learned nothing cannot be edited).
SMOKE_SUBJECTS = 96
SMOKE_WORLD_MODEL = TinyLMConfig(corpus=world_corpus(SMOKE_SUBJECTS, passes=8, austen=False), vocab_size=1024,
                                 d_model=64, n_layers=4, n_heads=4, d_ff=256, seq_len=64, batch_size=16, steps=800,
                                 warmup_steps=30, log_every=50)
