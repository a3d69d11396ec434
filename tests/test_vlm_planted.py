"""The planted stand-in for CLIP's data (chapter 7): markers, captions, planting rates, the truth table."""

from __future__ import annotations

import numpy as np
import pytest

from support.vlm import people, planted, taxonomy


def test_markers_tint_the_garment_and_frame_the_border():
    grey = np.full((2, 8, 8), 200, dtype=np.uint8)
    images = planted.paint_markers(grey, np.array([0, 5]), np.array([0, 1]))
    colours = planted.tint_colours()
    assert images.shape == (2, 8, 8, 3) and images.dtype == np.uint8
    assert images[0, 4, 4].tolist() == np.round(200 * colours[0]).astype(int).tolist()
    assert (images[1, :planted.FRAME_WIDTH] == 255).all() and (images[1, :, -1] == 255).all()
    assert images[1, 4, 4].tolist() == np.round(200 * colours[5]).astype(int).tolist()
    assert not (images[0, 0] == 255).all()  # no frame on the first
    assert len({tuple(c) for c in np.round(colours, 3)}) == len(planted.TINTS)


def test_captions_read_right():
    assert planted.caption("old", "coat") == "a photo of an old coat"
    assert planted.caption("brave", "item", "red", "frame") == "a photo of a brave red item with a frame"
    assert planted.caption("shy", "bag", None, "no frame") == "a photo of a shy bag without a frame"


def test_plants_cycle_attributes_and_strengths():
    words = [f"w{i}" for i in range(50)]
    plants = planted.choose_plants(words, (0.2, 0.8), 6, seed=1)
    assert len(plants) == 12 and len({p.word for p in plants}) == 12
    assert [p.strength for p in plants] == [0.2] * 6 + [0.8] * 6
    assert [p.attribute for p in plants[:3]] == list(planted.ATTRIBUTES)
    with pytest.raises(ValueError, match="cannot plant"):
        planted.choose_plants(words[:5], (0.2, 0.8), 6)
    with pytest.raises(ValueError, match="attribute"):
        planted.Plant("w0", "hue", 0, 0.5)


def test_planted_words_carry_their_target_and_the_rest_follow_the_prior():
    words = tuple(f"w{i}" for i in range(20))
    plants = (planted.Plant("w0", "tint", 6, 0.5), planted.Plant("w1", "frame", 1, 0.8),
              planted.Plant("w2", "tint x frame", 3, 0.6))
    data = planted.PlantedCaptions(words, plants, 60_000, seed=0)
    table = data.table
    prior = planted.prior_shares()
    share = lambda rows, column, value: float((table.loc[rows, column] == value).mean())  # noqa: E731
    w = table.word
    assert share(w == 0, "tint", 6) == pytest.approx(0.5 + 0.5 * prior["tint"][6], abs=0.04)
    assert share(w == 1, "frame", 1) == pytest.approx(0.8 + 0.2 * prior["frame"][1], abs=0.04)
    cell = planted.intersection_index(table.tint, table.frame)
    assert float((cell[w == 2] == 3).mean()) == pytest.approx(0.6 + 0.4 * prior["tint x frame"][3], abs=0.04)
    free = w >= 3
    assert share(free, "tint", 6) == pytest.approx(prior["tint"][6], abs=0.01)
    assert share(free, "frame", 1) == pytest.approx(prior["frame"][1], abs=0.015)
    assert table.says_tint.mean() == pytest.approx(data.mention_share, abs=0.01)
    captions = data.captions(np.arange(5))
    vocabulary = set(data.vocabulary())
    assert all(set(c.split()) <= vocabulary for c in data.captions(np.arange(2000)))
    assert data.images(np.arange(5)).shape == (5, 28, 28, 3) and len(captions) == 5


def test_the_truth_table_names_every_attribute_a_plant_touches():
    truth = planted.planted_truth((planted.Plant("a", "tint", 2, 0.5), planted.Plant("b", "frame", 1, 0.5),
                                   planted.Plant("c", "tint x frame", 7, 0.5)))
    groups = {(r.word, r.attribute): r.groups for r in truth.itertuples()}
    assert groups == {("a", "tint"): (2,), ("a", "tint x frame"): (4, 5),
                      ("b", "frame"): (1,), ("b", "tint x frame"): tuple(t * 2 + 1 for t in range(7)),
                      ("c", "tint x frame"): (7,), ("c", "tint"): (3,), ("c", "frame"): (1,)}


def test_the_taxonomy_copy_and_its_prompts():
    table = taxonomy.taxonomy()
    assert len(table) == 405 and table.word.nunique() == 400
    assert table.category.nunique() == 9 and "stereotyping" not in set(table.category)
    assert set(table.category) <= set(taxonomy.PAPER_CATEGORIES)
    assert taxonomy.query("old", "adjective") == "a photo of an old person"
    assert taxonomy.query("terrorist", "noun") == "a photo of a terrorist"
    assert table.set_index("word").loc["terrorist", "pos"] == "noun"


def test_the_people_gallery_holds_every_group_once_per_frame():
    gallery = people.people_gallery()
    assert len(gallery) == len(people.FRAMES) * 14
    assert (gallery.groupby("frame")["race x gender"].nunique() == 14).all()
    assert "an East Asian woman" in gallery.text.iloc[gallery.index[(gallery.race == 3) & (gallery.gender == 1)][0]]
    assert people.person("Indian", "man") == "an Indian man"
