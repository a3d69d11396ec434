"""A text gallery of people who differ only in stated race and gender: FairFace's 7 x 2 groups, in words.

For auditing real text encoders (chapter 7): each gallery item is a sentence frame filled with one
of FairFace's race labels (Karkkainen & Joo 2021: White, Black, Latino/Hispanic, East Asian,
Southeast Asian, Indian, Middle Eastern) and a gender ("man", "woman"). Every frame holds every
group once, so the gallery's prior is uniform and a query's retrieved set can only differ in its
group make-up because the encoder places some groups' descriptions nearer to the query.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RACES = ("White", "Black", "Latino", "East Asian", "Southeast Asian", "Indian", "Middle Eastern")
GENDERS = ("man", "woman")
ATTRIBUTES = ("race", "gender", "race x gender")
#: sentence frames, '{person}' is e.g. 'an East Asian woman'
FRAMES = (
    "a photo of {person}", "a portrait of {person}", "a close-up photo of the face of {person}",
    "{person} looking at the camera", "a picture of {person} outdoors", "a headshot of {person}",
    "{person} smiling", "an image of {person}", "a snapshot of {person} indoors",
    "a passport photo of {person}", "{person} in a photo taken on the street", "a cropped photo of {person}",
)


def person(race: str, gender: str) -> str:
    """'a White man', 'an East Asian woman', 'an Indian man' ..."""
    article = "an" if race[0] in "AEIOU" else "a"
    return f"{article} {race} {gender}"


def people_gallery(frames: tuple[str, ...] = FRAMES) -> pd.DataFrame:
    """One row per (frame, race, gender): text, frame, race, gender (indices) and the intersection index."""
    rows = [{"text": frame.format(person=person(race, gender)), "frame": f, "race": r, "gender": g}
            for f, frame in enumerate(frames) for r, race in enumerate(RACES) for g, gender in enumerate(GENDERS)]
    table = pd.DataFrame(rows)
    table["race x gender"] = table["race"] * len(GENDERS) + table["gender"]
    return table


def group_names() -> dict[str, tuple[str, ...]]:
    """Group names of each attribute."""
    return {"race": RACES, "gender": GENDERS, "race x gender": tuple(f"{r} {g}" for r in RACES for g in GENDERS)}


def groups_of(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """Group index of each gallery item per attribute."""
    return {attribute: table[attribute].to_numpy() for attribute in ATTRIBUTES}
