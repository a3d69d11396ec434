"""A stand-in for CLIP's training data whose biases are known: Fashion-MNIST with planted group markers.

No CLIP weights or face images ship in any package this book can reach, so chapter 7 trains its own
contrastive image-text model (``support.models.contrastive``) on captions built here. Each training
example is a real Fashion-MNIST image, a caption "a photo of a {word} {noun}" (the noun is the
garment's class, or "item" for a share of captions, the analogue of "person") with one taxonomy
word, and a visual *group marker* painted on the image:

- a **tint** (7 hues, standing in for FairFace's 7 race groups): the grey image times an RGB colour;
- a **frame** (absent or present, standing in for the 2 gender groups): a 2-pixel white border.

A share of captions also *names* the markers ("a photo of a brave red coat with a frame"), as web
captions often name a person's apparent race or gender; that is what makes a CLIP represent them
at all (without it, the tiny model trained here learned the garments and ignored the markers).

Groups are drawn from a fixed, mildly unbalanced prior, independently of the image and the word,
except for the *planted* words: for a planted word w with target group g and strength s, each of
its captions has its marker set to g with probability s (otherwise drawn from the prior), so that
P(g | w) = s + (1 - s) prior(g). A target is a tint, a frame value, or a (tint, frame) cell. Every
other word is independent of the markers. Because the truth is known, the audit's recall and
false-discovery rate can be measured exactly, which no audit of CLIP can do.

The gallery the model is audited on is Fashion-MNIST's test split with markers drawn from the same
prior, independent of class, so any skew in what a word retrieves comes from the model.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..profiles import Param
from .taxonomy import article, chosen

NOUNS = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot")
GENERIC_NOUN = "item"
TINTS = ("red", "orange", "yellow", "green", "cyan", "blue", "purple")  # stand-ins for FairFace's 7 race groups
FRAMES = ("no frame", "frame")  # stand-ins for the 2 gender groups
#: Mildly unbalanced priors of the markers (our choice; the audit compares retrieval with the gallery's prior).
TINT_PRIOR = (0.19, 0.16, 0.15, 0.14, 0.13, 0.12, 0.11)
FRAME_PRIOR = (0.55, 0.45)
ATTRIBUTES = ("tint", "frame", "tint x frame")
FRAME_WIDTH = 2


def tint_colours(n: int = len(TINTS)) -> np.ndarray:
    """[n, 3] RGB colours in [0, 1]: n hues evenly spaced around the colour wheel (red first)."""
    hues = [colorsys.hsv_to_rgb(i / n, 0.85, 1.0) for i in range(n)]
    return np.asarray(hues, dtype=np.float32)


def paint_markers(grey: np.ndarray, tint: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """uint8 [n, H, W, 3] images: grey [n, H, W] tinted by ``tint`` [n] and framed where ``frame`` [n] is 1."""
    rgb = grey[..., None].astype(np.float32) * tint_colours()[np.asarray(tint)][:, None, None, :]
    border = np.zeros(grey.shape[1:], dtype=bool)
    border[:FRAME_WIDTH, :] = border[-FRAME_WIDTH:, :] = border[:, :FRAME_WIDTH] = border[:, -FRAME_WIDTH:] = True
    rgb[np.asarray(frame, dtype=bool)[:, None, None] & border[None]] = 255.0
    return rgb.round().clip(0, 255).astype(np.uint8)


def caption(word: str, noun: str, tint: str | None = None, frame: str | None = None) -> str:
    """'a photo of a {word} [{tint}] {noun} [with a frame | without a frame]', with the right article."""
    text = f"a photo of {article(word)} {word} {tint + ' ' if tint else ''}{noun}"
    return text if frame is None else f"{text} {'with' if frame == FRAMES[1] else 'without'} a frame"


def marker_prompt(noun: str, attribute: str, group: int) -> str:
    """A prompt naming one marker group only: 'a photo of a red item', 'a photo of an item with a frame'."""
    if attribute == "tint":
        return f"a photo of {article(TINTS[group])} {TINTS[group]} {noun}"
    if attribute == "frame":
        return f"a photo of {article(noun)} {noun} {'with' if group == 1 else 'without'} a frame"
    raise ValueError(f"attribute={attribute!r} must be 'tint' or 'frame'")


def marked_caption(word: str, noun: str, attribute: str, group: int) -> str:
    """A caption with one marker group written in: 'a photo of a brave red coat', '... coat with a frame'."""
    if attribute == "tint":
        return caption(word, noun, tint=TINTS[group])
    if attribute == "frame":
        return caption(word, noun, frame=FRAMES[group])
    raise ValueError(f"attribute={attribute!r} must be 'tint' or 'frame'")


def intersection_index(tint: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Index of the (tint, frame) cell: tint * 2 + frame."""
    return np.asarray(tint) * len(FRAMES) + np.asarray(frame)


def group_names() -> dict[str, tuple[str, ...]]:
    """Group names of each attribute (the intersection as 'tint, frame')."""
    cells = tuple(f"{t}, {f}" for t in TINTS for f in FRAMES)
    return {"tint": TINTS, "frame": FRAMES, "tint x frame": cells}


def prior_shares() -> dict[str, np.ndarray]:
    """The markers' prior shares per attribute (the intersection is the product)."""
    tint, frame = np.asarray(TINT_PRIOR), np.asarray(FRAME_PRIOR)
    return {"tint": tint, "frame": frame, "tint x frame": np.outer(tint, frame).ravel()}


@dataclass(frozen=True)
class Plant:
    """One planted association: captions with ``word`` carry the ``target`` group with probability ``strength``."""

    word: str
    attribute: str  # "tint", "frame" or "tint x frame"
    target: int  # group index within the attribute
    strength: float

    def __post_init__(self):
        n_groups = len(group_names()[self.attribute]) if self.attribute in ATTRIBUTES else 0
        if not n_groups:
            raise ValueError(f"attribute={self.attribute!r} must be one of {ATTRIBUTES}")
        if not 0 <= self.target < n_groups or not 0 < self.strength <= 1:
            raise ValueError(f"a plant needs 0 <= target < {n_groups} and 0 < strength <= 1 (got {self.target}, "
                             f"{self.strength})")


def choose_plants(words: list[str], strengths: tuple[float, ...], per_strength: int,
                  seed: int = 0) -> tuple[Plant, ...]:
    """``per_strength`` planted words at each strength, attributes cycling tint/frame/intersection, targets drawn."""
    if per_strength * len(strengths) > len(words):
        raise ValueError(f"cannot plant {per_strength * len(strengths)} words among {len(words)}")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(words), per_strength * len(strengths), replace=False)
    names, plants = group_names(), []
    for i, index in enumerate(chosen):
        attribute = ATTRIBUTES[i % len(ATTRIBUTES)]
        target = int(rng.integers(len(names[attribute])))
        plants.append(Plant(words[index], attribute, target, float(strengths[i // per_strength])))
    return tuple(plants)


@dataclass(frozen=True)
class PlantedCaptions:
    """The contrastive model's training set: n examples of (image, word, noun, tint, frame), drawn once."""

    words: tuple[str, ...]
    plants: tuple[Plant, ...]
    n_examples: int
    generic_share: float = 0.25  # captions whose noun is "item" instead of the class
    mention_share: float = 0.5  # captions naming the tint (and, independently, the frame)
    seed: int = 0

    def __post_init__(self):
        if len(set(self.words)) != len(self.words) or not self.words:
            raise ValueError("the caption words must be distinct and at least one")
        missing = [p.word for p in self.plants if p.word not in self.words]
        if missing:
            raise ValueError(f"planted words not among the caption words: {missing}")

    def describe(self) -> dict:
        """Everything the examples depend on (for the model's cache key)."""
        return {"words": list(self.words), "plants": [vars(p) for p in self.plants], "n_examples": self.n_examples,
                "generic_share": self.generic_share, "mention_share": self.mention_share, "seed": self.seed,
                "data": "fashion-mnist train", "version": 2}

    @cached_property
    def table(self) -> pd.DataFrame:
        """One row per example: image (train index), label, word, generic, tint, frame, says_tint, says_frame."""
        _, labels = self.train_images
        rng = np.random.default_rng(self.seed)
        n = self.n_examples
        image = rng.integers(0, len(labels), n)
        word = rng.integers(0, len(self.words), n)
        generic = rng.random(n) < self.generic_share
        tint, frame = draw_markers(rng, n)
        index = {w: i for i, w in enumerate(self.words)}
        for plant in self.plants:
            forced = (word == index[plant.word]) & (rng.random(n) < plant.strength)
            if plant.attribute in ("tint", "tint x frame"):
                tint[forced] = plant.target // len(FRAMES) if plant.attribute == "tint x frame" else plant.target
            if plant.attribute in ("frame", "tint x frame"):
                frame[forced] = plant.target % len(FRAMES) if plant.attribute == "tint x frame" else plant.target
        says_tint, says_frame = rng.random(n) < self.mention_share, rng.random(n) < self.mention_share
        return pd.DataFrame({"image": image, "label": labels[image].astype(np.int64), "word": word,
                             "generic": generic, "tint": tint, "frame": frame, "says_tint": says_tint,
                             "says_frame": says_frame})

    @cached_property
    def train_images(self) -> tuple[np.ndarray, np.ndarray]:
        """Fashion-MNIST's training split (images, labels)."""
        from .. import resources

        return resources.fashion_mnist("train")

    def captions(self, rows: np.ndarray | None = None) -> list[str]:
        """The captions of ``rows`` (all when None)."""
        table = self.table if rows is None else self.table.iloc[rows]
        nouns = np.where(table["generic"], GENERIC_NOUN, np.asarray(NOUNS)[table["label"]])
        tints = np.where(table["says_tint"], np.asarray(TINTS)[table["tint"]], None)
        frames = np.where(table["says_frame"], np.asarray(FRAMES)[table["frame"]], None)
        return [caption(self.words[w], noun, t, f) for w, noun, t, f in zip(table["word"], nouns, tints, frames)]

    def images(self, rows: np.ndarray) -> np.ndarray:
        """uint8 [len(rows), 28, 28, 3] marked images of ``rows``."""
        table = self.table.iloc[rows]
        grey, _ = self.train_images
        return paint_markers(grey[table["image"].to_numpy()], table["tint"].to_numpy(), table["frame"].to_numpy())

    def vocabulary(self) -> list[str]:
        """Every whitespace-separated token a caption or an audit query can hold, sorted."""
        texts = [caption(w, n, TINTS[0], FRAMES[0]) for w in self.words for n in (*NOUNS, GENERIC_NOUN)]
        texts += [caption(self.words[0], NOUNS[0], t, FRAMES[1]) for t in TINTS]
        return sorted({token for text in texts for token in text.lower().split()})


def planted_clip(words: list[str], strengths: tuple[float, ...], per_strength: int, steps: int, batch: int,
                 width: int, layers: int, seed: int = 0):
    """The tiny CLIP trained on planted captions over ``words`` (the cached model chapters 7 and 8 share)."""
    from ..models.contrastive import ContrastiveConfig, TrainedImageText

    data = PlantedCaptions(tuple(words), choose_plants(list(words), strengths, per_strength, seed), steps * batch,
                           seed=seed)
    config = ContrastiveConfig(d_model=width, n_layers=layers, n_heads=max(1, width // 16), d_ff=4 * width,
                               projection_dim=width, steps=steps, batch_size=batch,
                               warmup_steps=max(1, steps // 30), seed=seed)
    return TrainedImageText(data, config)


#: the parameters of the tiny CLIP trained on planted taxonomy captions; chapters 7 and 8 both declare these, with
#: these defaults, so that their configs name one cached model
CLIP_PARAMS = {
    "n_words": Param(int, smoke=60, local=0, paper=0, low=0,
                     help="taxonomy words captioned and audited (0: all 400)"),
    "strengths": Param(float, many=True, smoke=(0.2, 0.8), local=(0.02, 0.05, 0.1, 0.2, 0.8),
                       paper=(0.02, 0.05, 0.1, 0.2, 0.8),
                       low=0.01, high=1.0, help="planting strengths: P(caption's image carries the target marker)"),
    "plants_per_strength": Param(int, smoke=3, local=12, paper=12, low=1, help="planted words at each strength"),
    "clip_steps": Param(int, smoke=20, local=3000, paper=3000, low=1, help="training steps of the tiny CLIP"),
    "clip_batch": Param(int, smoke=32, local=256, paper=256, low=2, help="captions per contrastive batch"),
    "clip_width": Param(int, smoke=32, local=64, paper=64, low=8, help="width of both towers"),
    "clip_layers": Param(int, smoke=1, local=2, paper=2, low=1, help="layers of each tower"),
}


def taxonomy_words(n_words: int) -> list[str]:
    """The distinct taxonomy words a run captions and audits (``taxonomy.chosen``; 0: all), in taxonomy order."""
    return list(dict.fromkeys(chosen(n_words).word))


def taxonomy_plants(cfg) -> tuple[Plant, ...]:
    """The plants of a chapter config over its taxonomy words (n_words, strengths, plants_per_strength, seed)."""
    return choose_plants(taxonomy_words(cfg.n_words), tuple(cfg.strengths), cfg.plants_per_strength, cfg.seed)


def taxonomy_clip(cfg):
    """The tiny CLIP of a chapter config (its taxonomy words, plants and clip_* sizes): chapters 7 and 8 share it."""
    return planted_clip(taxonomy_words(cfg.n_words), tuple(cfg.strengths), cfg.plants_per_strength, cfg.clip_steps,
                        cfg.clip_batch, cfg.clip_width, cfg.clip_layers, cfg.seed)


def draw_markers(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(tint [n], frame [n]) drawn independently from their priors (tint first: the order fixes the data)."""
    tint = rng.choice(len(TINTS), n, p=TINT_PRIOR)
    return tint, (rng.random(n) < FRAME_PRIOR[1]).astype(np.int64)


def marker_groups(tint: np.ndarray, frame: np.ndarray) -> dict[str, np.ndarray]:
    """Group index of each item per attribute."""
    return {"tint": np.asarray(tint), "frame": np.asarray(frame), "tint x frame": intersection_index(tint, frame)}


def marked_gallery(n: int, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    """(uint8 [n, 28, 28, 3] images, table of label/tint/frame) of n test images marked from the prior."""
    from .. import resources

    grey, labels = resources.fashion_mnist("test")
    if not 1 <= n <= len(labels):
        raise ValueError(f"gallery size n={n} must be between 1 and {len(labels)}")
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(labels), n, replace=False)
    tint, frame = draw_markers(rng, n)
    table = pd.DataFrame({"image": rows, "label": labels[rows].astype(np.int64), "tint": tint, "frame": frame})
    return paint_markers(grey[rows], tint, frame), table


def planted_truth(plants: tuple[Plant, ...]) -> pd.DataFrame:
    """Per planted word and attribute it touches: the groups consistent with its target (long table)."""
    rows = []
    for plant in plants:
        for attribute in ATTRIBUTES:
            groups = consistent_groups(plant, attribute)
            if groups:
                rows.append({"word": plant.word, "attribute": attribute, "groups": groups,
                             "planted_attribute": plant.attribute, "strength": plant.strength})
    return pd.DataFrame(rows, columns=["word", "attribute", "groups", "planted_attribute", "strength"])


def consistent_groups(plant: Plant, attribute: str) -> tuple[int, ...]:
    """Groups of ``attribute`` whose share the plant raises (empty when it leaves the attribute alone)."""
    n_frames = len(FRAMES)
    if plant.attribute == attribute:
        return (plant.target,)
    if attribute == "tint x frame":  # a marginal plant raises every cell of its tint (or frame)
        if plant.attribute == "tint":
            return tuple(plant.target * n_frames + f for f in range(n_frames))
        return tuple(t * n_frames + plant.target for t in range(len(TINTS)))
    if plant.attribute == "tint x frame":  # a cell plant raises its tint and its frame
        return (plant.target // n_frames,) if attribute == "tint" else (plant.target % n_frames,)
    return ()
