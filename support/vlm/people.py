"""A text gallery of people who differ only in stated race and gender: FairFace's 7 x 2 groups, in words.

For auditing (chapter 7) and debiasing (chapter 8) real text encoders: each gallery item is a
sentence frame filled with one of FairFace's race labels (Karkkainen & Joo 2021: White, Black,
Latino/Hispanic, East Asian, Southeast Asian, Indian, Middle Eastern) and a gender ("man",
"woman"). Every frame holds every group once, so the gallery's prior is uniform and a query's
retrieved set can only differ in its group make-up because the encoder places some groups'
descriptions nearer to the query.

Also here: the same groups' wording for queries (:func:`attribute_prompts`, :func:`augment`, used by
Bend-VLM's step 1 and Orth-Cal), and FairFace's labels and faces for the ``paper`` profile.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .taxonomy import article

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
    """'a White man', 'an East Asian woman', 'an Indian man' ... (any noun in place of the gender)."""
    return f"{article(race)} {race} {gender}"


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


#: nouns for Orth-Cal's pairs of prompts that differ only in the attribute ("a photo of a Black adult" /
#: "a photo of a White adult"); none of them is a taxonomy word
CALIBRATION_NOUNS = ("person", "adult", "individual", "human", "face", "character")


def group_phrase(attribute: str, group: str, noun: str = "person") -> str:
    """'a Black person' (race), 'a man' / 'a woman' for the noun 'person' (gender), else 'a male {noun}'."""
    if attribute == "race":
        return person(group, noun)
    if attribute == "gender":
        if noun == "person":
            return f"a {group}"
        return f"a {'male' if group == GENDERS[0] else 'female'} {noun}"
    raise ValueError(f"attribute={attribute!r} must be 'race' or 'gender'")


def attribute_prompts(attribute: str, noun: str = "person") -> list[str]:
    """'a photo of {group phrase}' for each group of ``attribute`` (Orth-Proj's spurious prompts for noun='person')."""
    return [f"a photo of {group_phrase(attribute, group, noun)}" for group in group_names()[attribute]]


def augment(word: str, pos: str, attribute: str, group: str) -> str:
    """A taxonomy prompt with the group written in: 'a photo of a lazy Black person', 'a photo of a female nurse'."""
    if pos == "adjective":
        phrase = group_phrase(attribute, group)
        return f"a photo of {article(word)} {word} {phrase.split(' ', 1)[1]}"
    if pos == "noun":
        phrase = group_phrase(attribute, group, word)
        return f"a photo of {phrase}"
    raise ValueError(f"pos={pos!r} must be 'adjective' or 'noun'")


FAIRFACE_ID = "HuggingFaceM4/FairFace"
FAIRFACE_RACES = ("White", "Black", "Latino_Hispanic", "East Asian", "Southeast Asian", "Indian", "Middle Eastern")


def fairface_groups(race_names: list[str], gender_names: list[str]) -> dict[str, np.ndarray]:
    """FairFace's race and gender labels (as the data set names them) -> the people gallery's group indices."""
    race_index = {name: i for i, name in enumerate(FAIRFACE_RACES)}
    gender_index = {"Male": 0, "Female": 1}
    unknown = sorted(set(race_names) - set(race_index)) + sorted(set(gender_names) - set(gender_index))
    if unknown:
        raise ValueError(f"unknown FairFace labels {unknown}; expected races {FAIRFACE_RACES} and Male/Female")
    race = np.array([race_index[r] for r in race_names])
    gender = np.array([gender_index[g] for g in gender_names])
    return {"race": race, "gender": gender, "race x gender": race * len(GENDERS) + gender}


def fairface_gallery(n: int, seed: int = 0):
    """(PIL images, groups) of n FairFace validation faces from the hub (``paper`` profile)."""
    from ..models.hub import require_hub

    require_hub(f"the FairFace data set ({FAIRFACE_ID})")
    import datasets

    data = datasets.load_dataset(FAIRFACE_ID, "1.25", split="validation")
    rows = np.random.default_rng(seed).permutation(len(data))[:n]
    data = data.select(rows)
    race = [data.features["race"].int2str(int(r)) for r in data["race"]]
    gender = [data.features["gender"].int2str(int(g)) for g in data["gender"]]
    return list(data["image"]), fairface_groups(race, gender)
