"""Chapter 1's experiments: the same sampler with and without the CDD projection, scored exactly.

Settings, in the order of Cardei et al. (2025): lexical and character constraints on text (exact
counts), toxicity of continuations of toxic-leaning prompts (a learned surrogate in the projection,
the real classifier as the judge), and molecules (SA and QED surrogates in the projection, RDKit
as the judge; novelty by best-first search). Baselines: the unconstrained MDLM on the same seeds,
rejection sampling (estimated from the unconstrained pass rate), and an autoregressive model.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from .. import resources
from ..headlines import Headline
from ..models import (
    AUSTEN,
    CachedModel,
    TinyLMConfig,
    TinyMDLMConfig,
    heldout_nelbo,
    hub,
    load as load_cached,
    load_masked_lm,
    perplexity,
    require_hub,
    sample_windows,
    tiny_lm,
    tiny_mdlm,
    training_record,
    unigram_cross_entropy,
)
from ..profiles import Param
from ..progress import bar
from ..stats import fisher_p, mean_interval, rate_columns
from . import constraints as C
from . import diffusion, metrics
from .projection import ALMSettings, projector
from .molecules import MoleculeCorpus, fits, molecule_rows, to_smiles

#: The paper's numbers (arXiv 2503.09790: toxicity table, molecule tables), for the side-by-side tables.
PAPER_TOXICITY = pd.DataFrame([
    {"method": "MDLM", "tau": 0.25, "violations_%": 32.1, "ppl": 46.72},
    {"method": "MDLM", "tau": 0.50, "violations_%": 23.2, "ppl": 46.72},
    {"method": "MDLM", "tau": 0.75, "violations_%": 17.2, "ppl": 46.72},
    {"method": "CDD", "tau": 0.25, "violations_%": 0.0, "ppl": 61.55},
    {"method": "CDD", "tau": 0.50, "violations_%": 0.0, "ppl": 59.44},
    {"method": "CDD", "tau": 0.75, "violations_%": 0.0, "ppl": 54.87},
])
#: Counts behind the molecule table's claims: valid of all UDLM samples, valid-and-novel without / with CDD.
#: The book's targets for this chapter's local run (issue "CDD v2"), glued beside the measured numbers.
TARGETS = {"violations": 2.0, "moses_sized": 80.0, "cost_ratio": 3.0, "cost_ratio_stretch": 1.5,
           "batched_speedup": 3.0, "chapter_minutes": 15.0}
PAPER_MOLECULE_COUNTS = {"valid_udlm": 895, "samples_udlm": 1000, "novel_udlm": 345, "novel_cdd": 511}
PAPER_MOLECULES = {"SA violations at tau 3.0-4.5 (CDD)": "0%", "valid molecules at SA tau 3.0 (CDD / UDLM)": "353 / 895",
                   "valid and novel molecules (CDD / UDLM)": "511 / 345"}

PARAMS = {
    "text_model": Param(str, smoke="tiny-smoke", local="tiny", paper="kuleshov-group/mdlm-owt",
                        help="'tiny' = the MDLM trained here on Austen; otherwise a hub MDLM id"),
    "judge_model": Param(str, smoke="tiny-smoke", local="tiny", paper="gpt2-xl",
                         help="autoregressive perplexity judge ('tiny' = the Austen Llama trained here)"),
    "molecule_model": Param(str, smoke="tiny-smoke", local="tiny", paper="tiny",
                            help="'tiny' = the MOSES MDLM trained here; the paper's UDLM (uniform noise) is not supported"),
    "text_len": Param(int, smoke=16, local=32, paper=128, low=4, help="tokens per text sample (prompt included)"),
    "text_steps": Param(int, smoke=8, local=32, paper=128, low=1, help="reverse steps for text"),
    "n_text": Param(int, smoke=8, local=64, paper=256, low=2, help="samples per text setting"),
    "include_word": Param(str, smoke="Elizabeth", local="Elizabeth", paper="love"),
    "banned_word": Param(str, smoke="the", local="the", paper="the"),
    "count_char": Param(str, smoke="e", local="e", paper="e"),
    "char_low": Param(int, smoke=1, local=3, paper=10, low=0),
    "char_high": Param(int, smoke=4, local=6, paper=30, low=0),
    "max_words": Param(int, smoke=8, local=12, paper=50, low=1),
    "prompt_len": Param(int, smoke=4, local=8, paper=32, low=1, help="prompt tokens of the toxicity setting"),
    "n_prompts": Param(int, smoke=8, local=1000, paper=1000, low=2),
    "tox_seeds": Param(int, smoke=2, local=3, paper=3, low=1,
                       help="sampler seeds per method in the toxicity comparison (same prompts, fresh draws)"),
    "tox_taus": Param(float, many=True, smoke=(0.5,), local=(0.25, 0.5, 0.75), paper=(0.25, 0.5, 0.75), low=0.0,
                      high=1.0, help="toxicity thresholds tau"),
    "tox_margin": Param(float, smoke=1.0, local=1.0, paper=1.0, low=0.0,
                        help="surrogate threshold = logit(tau) - margin (safety margin for surrogate error)"),
    "mol_len": Param(int, smoke=64, local=64, paper=64, low=8),
    "mol_steps": Param(int, smoke=8, local=64, paper=64, low=1),
    "mol_notation": Param(str, smoke="selfies", local="selfies", paper="selfies", choices=("smiles", "selfies"),
                          help="how the molecule MDLM writes molecules (SELFIES: every sequence decodes to one)"),
    "mol_decode": Param(str, smoke="drop", local="drop", paper="drop", choices=("drop", "cut"),
                        help="a pad before later tokens: 'drop' it (read as no token) or 'cut' the SMILES there"),
    "n_mols": Param(int, smoke=8, local=256, paper=1000, low=2, help="molecules per molecule setting"),
    "sa_taus": Param(float, many=True, smoke=(3.5,), local=(3.0, 3.5, 4.0, 4.5), paper=(3.0, 3.5, 4.0, 4.5),
                     low=1.0, high=10.0, help="synthetic-accessibility limits tau"),
    "sa_margin": Param(float, smoke=0.3, local=0.3, paper=0.3, low=0.0, help="surrogate SA limit = tau - margin"),
    "qed_min": Param(float, smoke=0.5, local=0.6, paper=0.6, low=0.0, high=1.0),
    "novelty_top_k": Param(int, smoke=2, local=3, paper=3, low=1),
    "surrogate_molecules": Param(int, smoke=500, local=20000, paper=20000, low=100),
    "alm_outer": Param(int, smoke=3, local=8, paper=10, low=1),
    "alm_inner": Param(int, smoke=5, local=15, paper=20, low=1),
    "alm_lr": Param(float, smoke=1.0, local=1.0, paper=1.0, low=1e-4, help="Adam step size on the logits"),
    "alm_lr_decay": Param(float, smoke=0.7, local=0.7, paper=0.7, low=0.01, high=1.0,
                          help="Adam's step size is multiplied by this after every outer iteration"),
    "alm_patience": Param(int, smoke=0, local=0, paper=0, low=0,
                          help="a sample gives up after this many outer iterations in which the violation of its "
                               "argmax did not shrink (0: never, the paper's fixed budget; see benchmarks/cdd.py)"),
}

RESOURCES = ("austen", "moses")

TEXT_MDLM = TinyMDLMConfig(corpus=AUSTEN, seq_len=32, steps=2500, batch_size=64)
MOLECULE_MDLM = TinyMDLMConfig(corpus=MoleculeCorpus(200_000), seq_len=64, steps=3500, batch_size=64, lr=2e-3)
SMOKE_TEXT_MDLM = TinyMDLMConfig(corpus=AUSTEN, seq_len=16, d_model=32, n_layers=1, n_heads=2, d_ff=64, steps=30,
                                 batch_size=8, log_every=10)
SMOKE_MOLECULE_MDLM = TinyMDLMConfig(corpus=MoleculeCorpus(2000), seq_len=64, d_model=32, n_layers=1, n_heads=2,
                                     d_ff=64, steps=30, batch_size=8, log_every=10)
#: The autoregressive judge of perplexity: a 4-layer Llama trained here on Austen (stands in for GPT-2-XL).
JUDGE = TinyLMConfig(d_model=128, n_layers=4, n_heads=4, d_ff=512, seq_len=128, batch_size=16, steps=3000,
                     warmup_steps=100, log_every=10)
SMOKE_JUDGE = TinyLMConfig(d_model=32, n_layers=1, n_heads=1, d_ff=64, seq_len=64, batch_size=8, steps=40)


def text_mdlm_config(cfg) -> TinyMDLMConfig | None:
    """The tiny text MDLM the config names (its length set to ``text_len``), or None for a hub MDLM."""
    if cfg.text_model not in ("tiny", "tiny-smoke"):
        return None
    base = TEXT_MDLM if cfg.text_model == "tiny" else SMOKE_TEXT_MDLM
    return replace(base, seq_len=cfg.text_len)


def judge_config(cfg) -> TinyLMConfig | None:
    """The tiny judge the config names, or None for a hub judge."""
    return {"tiny": JUDGE, "tiny-smoke": SMOKE_JUDGE}.get(cfg.judge_model)


def molecule_mdlm_config(cfg) -> TinyMDLMConfig:
    """The molecule MDLM (trained here; the paper's UDLM is a uniform-noise model this sampler does not run)."""
    if cfg.molecule_model not in ("tiny", "tiny-smoke"):
        raise NotImplementedError(
            f"molecule_model={cfg.molecule_model!r}: the paper's molecule model is a uniform-noise diffusion "
            "model (UDLM), whose reverse step this chapter does not implement; use molecule_model='tiny' "
            "(a masked-diffusion model trained here on MOSES).")
    base = MOLECULE_MDLM if cfg.molecule_model == "tiny" else SMOKE_MOLECULE_MDLM
    return replace(base, seq_len=cfg.mol_len, corpus=replace(base.corpus, notation=cfg.mol_notation))


def models(cfg) -> list:
    """The cached models of the chapter: text MDLM, judge, molecule MDLM and its property surrogate (in that order)."""
    specs = (text_mdlm_config(cfg), judge_config(cfg), molecule_mdlm_config(cfg), property_surrogate_spec(cfg))
    return [m for m in specs if m is not None]


def denoiser_floor(model, tokenizer, config: TinyMDLMConfig, n_rows: int = 512, seed: int = 0) -> dict:
    """A trained tiny MDLM's held-out NELBO per token beside the unigram floor (nats): it must learn context to win."""
    corpus = config.corpus
    if isinstance(corpus, MoleculeCorpus):
        held = molecule_rows(resources.moses_smiles("test")[:n_rows], tokenizer, config.seq_len, corpus.notation)
        # 4,096 random training molecules, encoded alone: the sampler would encode all n_molecules (~100 s)
        pool = resources.moses_smiles("train")[:corpus.n_molecules]
        picks = torch.randint(0, len(pool), (4096,), generator=torch.Generator().manual_seed(seed)).tolist()
        train = molecule_rows([pool[i] for i in picks], tokenizer, config.seq_len, corpus.notation)
    else:
        train_ids, val_ids = corpus.splits(config.vocab_size)
        held = sample_windows(val_ids, n_rows, config.seq_len, torch.Generator().manual_seed(seed))
        train = train_ids
    return {"model": config.label(), "heldout_nelbo": heldout_nelbo(model, held, tokenizer.mask_token_id, seed=seed),
            "unigram_nats": unigram_cross_entropy(train, held, len(tokenizer)), "heldout_rows": len(held)}


def alm_settings(cfg, seed: int = 0) -> ALMSettings:
    """The projection's solver settings from the chapter's parameters."""
    return ALMSettings(outer_steps=cfg.alm_outer, inner_steps=cfg.alm_inner, lr=cfg.alm_lr,
                       lr_decay=cfg.alm_lr_decay, patience=cfg.alm_patience, seed=seed)


def convex_instances(n_seeds: int = 4, length: int = 3, vocab: int = 6) -> list[tuple[str, torch.Tensor, C.Constraint]]:
    """Small convex projection problems (x' [1, L, V], expected-count constraint) with a known cvxpy answer.

    Per seed: expected counts pushed into a box above the current value, below it, and the mass of two
    banned tokens capped at 0.05 (the hardest: the solution sits on the simplex's edge).
    """
    cases = []
    for seed in range(n_seeds):
        gen = torch.Generator().manual_seed(seed)
        x = torch.rand((1, length, vocab), generator=torch.Generator().manual_seed(10 + seed), dtype=torch.float64)
        x = -x.log()
        x = x / x.sum(-1, keepdim=True)
        a = torch.rand(vocab, generator=gen, dtype=torch.float64) * 2
        expected = float((x[0] @ a).sum())
        banned = torch.zeros(vocab, dtype=torch.float64)
        banned[:2] = 1
        region = C.region_mask(length).double()
        for name, weights, low, high in (("box above", a, expected + 0.6, expected + 1.2),
                                         ("upper bound", a, None, expected - 0.5), ("banned mass", banned, None, 0.05)):
            cases.append((name, x, C.ExpectedCount(weights, region, low, high)))
    return cases


def solver_vs_cvxpy(settings: dict[str, ALMSettings], n_seeds: int = 4) -> pd.DataFrame:
    """Each solver setting (Gumbel noise off) against cvxpy's exact KL projection on :func:`convex_instances`.

    One row per setting x instance: max |y - y*|, KL(x'||y) / KL(x'||y*), and y's remaining violation.
    """
    from .projection import cvxpy_projection, kl_projection, kl_to

    rows = []
    for name, x, con in convex_instances(n_seeds):
        free = torch.ones(x.shape[:2], dtype=torch.bool)
        low, high = con.low, con.high
        reference = cvxpy_projection(x[0].numpy(), [np.tile(con.weights.double().numpy(), (x.shape[1], 1))],
                                     [(low, high)])
        kl_star = float(kl_to(x, torch.from_numpy(reference)[None].clamp_min(1e-300).log(), free))
        for label, setting in settings.items():
            y, _ = kl_projection(x, free, con, replace(setting, deterministic=True))
            kl = float(kl_to(x, y.clamp_min(1e-300).log(), free))
            rows.append({"solver": label, "instance": name, "max_abs_diff": float(np.abs(y[0].numpy() - reference).max()),
                         "kl_ratio": kl / kl_star, "violation": float(con.violation(y).max())})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- models

@dataclass
class TextModels:
    """The text denoiser, its tokenizer and the autoregressive judge (same tokenizer for the tiny models)."""

    mdlm: object
    tokenizer: object
    judge: object
    judge_tokenizer: object
    mdlm_config: TinyMDLMConfig | None


def text_models(cfg, device: str = "cpu") -> TextModels:
    """Load the text MDLM and the judge named by the config (the tiny ones are made by ``prepare``)."""
    mdlm_cfg = text_mdlm_config(cfg)
    mdlm, tokenizer = tiny_mdlm(mdlm_cfg, device=device) if mdlm_cfg else hub_mdlm(cfg.text_model, device)
    judge_cfg = judge_config(cfg)
    judge, judge_tok = tiny_lm(judge_cfg, device=device) if judge_cfg else hub(cfg.judge_model, device=device)
    return TextModels(mdlm, tokenizer, judge, judge_tok, mdlm_cfg)


def hub_mdlm(model_id: str, device: str):
    """A hub MDLM (e.g. kuleshov-group/mdlm-owt, GPT-2 tokenizer) or a local folder in hub format."""
    from pathlib import Path

    if Path(model_id).is_dir():
        return load_masked_lm(model_id, device=device)
    require_hub(f"MDLM {model_id!r}")
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    model = AutoModelForMaskedLM.from_pretrained(model_id, trust_remote_code=True).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained("gpt2")
    tokenizer.add_special_tokens({"mask_token": "<|mask|>"})  # mdlm-owt's mask id is len(gpt2) = 50257
    return model, tokenizer


def molecule_model(cfg, device: str = "cpu"):
    """The SMILES MDLM (trained here by ``prepare``), its tokenizer and its config."""
    mol_cfg = molecule_mdlm_config(cfg)
    model, tokenizer = tiny_mdlm(mol_cfg, device=device)
    return model, tokenizer, mol_cfg


# --------------------------------------------------------------------------- decoding and exact counts

def decode_text(tokenizer, ids: torch.Tensor, start: int = 0) -> list[str]:
    """Decoded strings of rows ``ids[:, start:]`` (special tokens dropped)."""
    return tokenizer.batch_decode(ids[:, start:].cpu(), skip_special_tokens=True)


def decode_smiles(tokenizer, ids: torch.Tensor, interior_pads: str = "drop", notation: str = "smiles") -> list[str]:
    """SMILES of each row (a row still holding a mask token decodes to the invalid string '!').

    The molecule MDLM learned right-padded rows, but random-order unmasking can place a ``<|pad|>``
    before tokens it writes later. ``interior_pads='drop'`` reads a pad as "no token" and keeps every
    other token; ``'cut'`` (the first version of this chapter) stops at the first pad. SELFIES rows
    are decoded to SMILES.
    """
    if interior_pads not in ("drop", "cut"):
        raise ValueError(f"interior_pads={interior_pads!r} must be 'drop' or 'cut'")
    pad, mask = tokenizer.pad_token_id, tokenizer.mask_token_id
    strings = []
    for row in ids.cpu().tolist():
        if interior_pads == "cut" and pad in row:
            row = row[:row.index(pad)]
        tokens = [t for t in row if t != pad]
        strings.append(None if mask in tokens else tokenizer.decode(tokens, skip_special_tokens=True))
    decoded = to_smiles([s for s in strings if s is not None], notation)[::-1]
    return ["!" if s is None else decoded.pop() for s in strings]


def pad_diagnosis(tokenizer, ids: torch.Tensor, notation: str = "smiles") -> dict:
    """How often a sample has tokens after its first pad, and validity (and MOSES size) reading up to it vs dropping pads."""
    pad = tokenizer.pad_token_id
    rows = ids.cpu().tolist()
    interior = sum(pad in r and any(t != pad for t in r[r.index(pad):]) for r in rows)
    out = {"samples": len(rows), "tokens_after_first_pad": interior}
    for mode in ("cut", "drop"):
        smiles = decode_smiles(tokenizer, ids, mode, notation)
        out[f"valid_{mode}"] = sum(metrics.canonical(s) is not None for s in smiles)
        out[f"moses_sized_{mode}"] = sum(metrics.heavy_atoms(s) >= metrics.MOSES_MIN_HEAVY_ATOMS for s in smiles)
    return out


def exact_counter(tokenizer, start: int, count) -> callable:
    """``ids -> counts [B]`` applying a string counter to the decoded rows from ``start``."""
    return lambda ids: torch.tensor([count(t) for t in decode_text(tokenizer, ids, start)])


def lexical_constraints(cfg, tokenizer, start: int = 0) -> dict[str, C.Constraint]:
    """The chapter's text constraints: include a word, ban a word, bound a character count, cap words."""
    vocab = len(tokenizer)
    texts = C.token_texts(tokenizer, vocab)
    region = C.region_mask(cfg.text_len, start)
    word, banned, char = cfg.include_word, cfg.banned_word, cfg.count_char
    if C.word_token_weights([t if t.startswith(" ") else "" for t in texts], word).sum() == 0:
        raise ValueError(f"include_word={word!r} with a leading space is not a single token of this tokenizer; "
                         "pick a word that is")
    if len(char) != 1:
        raise ValueError(f"count_char={char!r} must be one character")
    if cfg.char_low > cfg.char_high:
        raise ValueError(f"char_low={cfg.char_low} must not exceed char_high={cfg.char_high}")
    return {
        # only the space-led token: it always starts a word, whatever comes before it
        f"contains '{word}'": C.ExpectedCount(C.word_token_weights([t if t.startswith(" ") else "" for t in texts],
                                                                   word), region, low=1,
                                              exact_count=exact_counter(tokenizer, start, lambda t: metrics.count_word(t, word)),
                                              name="include"),
        f"no '{banned}'": C.ExpectedCount(C.word_token_weights(texts, banned), region, high=0,
                                          exact_count=exact_counter(tokenizer, start, lambda t: metrics.count_word(t, banned)),
                                          name="exclude"),
        f"{cfg.char_low}-{cfg.char_high} '{char}'": C.ExpectedCount(
            C.char_weights(texts, char), region, low=cfg.char_low, high=cfg.char_high,
            exact_count=exact_counter(tokenizer, start, lambda t: metrics.count_char(t, char)), name="characters"),
        f"<= {cfg.max_words} words": C.WordCount(
            texts, region, high=cfg.max_words, exact_count=exact_counter(tokenizer, start, metrics.count_words),
            name="words"),
    }


# --------------------------------------------------------------------------- one setting

def run_sampler(model, tokenizer, n: int, seq_len: int, steps: int, constraint=None, settings=None,
                prefix=None, seed: int = 0, device: str = "cpu", record: int = 0, keep_probs: bool = False,
                search_top_k: int = 3, repair: bool = True, search: bool = True, warm: bool = True,
                commit: bool = True, reuse_unchanged: bool = True):
    """Sample ``n`` sequences, projected onto ``constraint`` when given; returns (ids, trace).

    The stages after the projection can be switched off to see what each earns: ``repair`` replaces
    a draw that breaks the exact check by the projection's argmax (see :func:`diffusion.sample`);
    ``search`` sends a sample that still fails the exact check at the end (its surrogate was
    satisfied but the decoded string is not, e.g. a word formed across two tokens) to the same
    best-first search as novelty: the cheapest change among each position's top-k tokens that
    passes the exact check. ``trace.searched`` counts the samples searched (= the failures after
    projection and repair), ``trace.search_failed`` those left unrepaired. ``warm`` carries the
    projection's multipliers across reverse steps; ``commit`` decodes a position at once when the
    projection moved its most likely token; ``reuse_unchanged`` keeps the x_theta of rows the last
    step did not change instead of running the denoiser on them again (exact: the denoiser reads no time).
    """
    # in place: the sampler re-runs the denoiser on the rows the projection overwrote (diffusion.sample)
    project = None if constraint is None else projector(constraint, settings or ALMSettings(), warm=warm, inplace=True)
    feasible = None if constraint is None or not repair else constraint.hard
    began = time.perf_counter()
    ids, trace = diffusion.sample(model, n, seq_len, steps, tokenizer.mask_token_id, prefix=prefix, project=project,
                                  feasible=feasible, seed=seed, device=device, record=record,
                                  keep_probs=keep_probs or (constraint is not None and search),
                                  commit_projected=commit and constraint is not None,
                                  reuse_unchanged=reuse_unchanged)
    trace.searched = trace.search_failed = 0
    if constraint is not None and search:
        failing = (~constraint.hard(ids)).nonzero().squeeze(1).tolist()
        start = 0 if prefix is None else prefix.shape[1]
        for b in failing:
            accept = lambda cand: bool(constraint.hard(torch.tensor([cand], device=ids.device))[0])  # noqa: E731
            found, _ = C.cheapest_accepted(ids[b].tolist(), trace.decode_probs[b], accept, range(start, seq_len),
                                           top_k=search_top_k, max_candidates=300)
            trace.searched += 1
            if found is None:
                trace.search_failed += 1
            else:
                ids[b] = torch.tensor(found, device=ids.device)
        trace.seconds = time.perf_counter() - began
    return ids, trace


def rejection_cost(pass_rate: float, seconds_per_sample: float) -> dict:
    """Expected samples and seconds until one unconstrained sample satisfies (geometric; inf at rate 0)."""
    tries = math.inf if pass_rate <= 0 else 1 / pass_rate
    return {"rejection_tries": tries, "rejection_s_per_valid": tries * seconds_per_sample}


def trace_columns(trace, n: int) -> dict:
    """What one run did: KL moved, inner steps, repairs, searches, share of rows denoised, time per sample."""
    return {"kl_moved": float(np.mean(trace.kl_moved)) if trace and trace.kl_moved else 0.0,
            "inner_steps_per_step": float(np.mean(trace.inner_steps)) if trace and trace.inner_steps else 0.0,
            "projected_%": 100 * trace.projected_rows / (n * len(trace.inner_steps)) if trace and trace.inner_steps
            else 0.0,
            "repaired": int(trace.repaired.sum()) if trace and trace.repaired is not None else 0,
            "committed_per_sample": trace.committed / n if trace else 0.0,
            "unsolved_steps": trace.unsolved if trace else 0,
            "searched": getattr(trace, "searched", 0), "search_failed": getattr(trace, "search_failed", 0),
            "denoiser_rows_%": 100 * trace.denoised_rows / (n * trace.steps) if trace and trace.steps
            else float("nan"),
            "s_per_sample": trace.seconds / n if trace else float("nan")}


def text_row(name, method, ids, trace, models: TextModels, ok: np.ndarray, start: int, n_seconds: float) -> dict:
    """One table row: violation rate with its exact interval, judge perplexity, diversity, projection work, time."""
    bos = models.judge_tokenizer.bos_token_id
    return {"constraint": name, "method": method, "n": len(ok), **rate_columns(int((~ok).sum()), len(ok)),
            "ppl": perplexity(models.judge, ids.cpu(), start, bos_id=bos),
            "distinct_2": metrics.distinct_n(ids[:, start:].tolist(), 2),
            **trace_columns(trace, len(ids)), "s_per_sample": n_seconds / len(ids)}


def lexical_experiment(cfg, models: TextModels, settings: ALMSettings, seed: int = 0, device: str = "cpu",
                       progress=None) -> tuple[pd.DataFrame, dict]:
    """Every lexical constraint: unconstrained, the paper's projection alone, and this chapter's CDD, same seeds.

    "CDD projection only" is the paper's operator by itself: cold multipliers at every step, the
    solver's whole budget (no early give-up, whatever ``settings.patience``), no commit, no repair,
    no search. "CDD" adds this chapter's warm start and commit, the repair and the search; its
    ``after_repair_%`` is the share still failing before the search.
    """
    cons = lexical_constraints(cfg, models.tokenizer)
    base_ids, base_trace = run_sampler(models.mdlm, models.tokenizer, cfg.n_text, cfg.text_len, cfg.text_steps,
                                       seed=seed, device=device)
    rows, samples = [], {"MDLM": decode_text(models.tokenizer, base_ids)}
    for name, con in (progress or (lambda x, **k: x))(cons.items(), desc="lexical constraints"):
        base_ok = con.hard(base_ids).cpu().numpy()
        base = text_row(name, "MDLM", base_ids, base_trace, models, base_ok, 0, base_trace.seconds)
        rows.append({**base, **rejection_cost(base_ok.mean(), base["s_per_sample"])})
        alone, alone_trace = run_sampler(models.mdlm, models.tokenizer, cfg.n_text, cfg.text_len, cfg.text_steps, con,
                                         replace(settings, patience=0), seed=seed, device=device, repair=False,
                                         search=False, warm=False, commit=False)
        rows.append(text_row(name, "CDD projection only", alone, alone_trace, models, con.hard(alone).cpu().numpy(),
                             0, alone_trace.seconds))
        ids, trace = run_sampler(models.mdlm, models.tokenizer, cfg.n_text, cfg.text_len, cfg.text_steps, con,
                                 settings, seed=seed, device=device)
        rows.append({**text_row(name, "CDD", ids, trace, models, con.hard(ids).cpu().numpy(), 0, trace.seconds),
                     "after_repair_%": 100 * trace.searched / cfg.n_text})
        samples[name] = decode_text(models.tokenizer, ids)
    return pd.DataFrame(rows), samples


def stage_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per constraint: violations (%) without CDD, with the paper's projection alone, with ours before and after search."""
    by = table.set_index(["constraint", "method"])["violations_%"]
    full = table[table.method == "CDD"].set_index("constraint")
    return pd.DataFrame({"MDLM": by.xs("MDLM", level="method"),
                         "paper's projection only": by.xs("CDD projection only", level="method"),
                         "CDD before search": full["after_repair_%"],
                         "CDD": full["violations_%"]})


def autoregressive_baseline(cfg, models: TextModels, seed: int = 0) -> tuple[pd.DataFrame, torch.Tensor]:
    """The judge model sampling freely (temperature 1), scored against the same lexical constraints."""
    torch.manual_seed(seed)
    judge, tok = models.judge, models.judge_tokenizer
    device = next(judge.parameters()).device
    start = torch.full((cfg.n_text, 1), tok.bos_token_id, dtype=torch.long, device=device)
    began = time.perf_counter()
    with torch.no_grad():
        out = judge.generate(start, attention_mask=torch.ones_like(start), max_new_tokens=cfg.text_len,
                             min_new_tokens=cfg.text_len, do_sample=True, top_k=0, temperature=1.0,
                             pad_token_id=tok.pad_token_id)
    seconds = time.perf_counter() - began
    ids = out[:, 1:1 + cfg.text_len].cpu()
    rows = []
    for name, con in lexical_constraints(cfg, models.tokenizer).items():
        ok = con.hard(ids).cpu().numpy()
        row = text_row(name, "autoregressive", ids, None, models, ok, 0, seconds)
        rows.append({**row, **rejection_cost(ok.mean(), row["s_per_sample"])})
    return pd.DataFrame(rows), ids


# --------------------------------------------------------------------------- toxicity

def corpus_windows(models: TextModels, n: int, length: int, split: str, seed: int) -> torch.Tensor:
    """``n`` random windows [n, length] of Austen in the denoiser's tokens (train part or the held-out tail)."""
    if models.mdlm_config is not None:
        train, val = models.mdlm_config.corpus.splits(models.mdlm_config.vocab_size)
    else:  # a hub tokenizer: tokenize the novels once
        ids = torch.tensor(models.tokenizer(resources.english_corpus())["input_ids"])
        cut = int(0.95 * len(ids))
        train, val = ids[:cut], ids[cut:]
    return sample_windows(train if split == "train" else val, n, length, torch.Generator().manual_seed(seed))


def toxicity_surrogate(cfg, models: TextModels, n_windows: int, extra_ids: torch.Tensor | None = None,
                       seed: int = 0) -> tuple[torch.Tensor, float, dict]:
    """Bag-of-tokens logistic surrogate of alt-profanity-check on continuations; returns (w, b, fit report)."""
    start, vocab = cfg.prompt_len, len(models.tokenizer)
    windows = corpus_windows(models, n_windows, cfg.text_len, "train", seed)
    if extra_ids is not None:
        windows = torch.cat([windows, extra_ids.cpu()])
    texts = decode_text(models.tokenizer, windows, start)
    labels = torch.tensor(metrics.toxicity(texts), dtype=torch.float32)
    region = C.region_mask(cfg.text_len, start)
    features = C.bag_of_tokens(windows, vocab, region)
    w, b = C.fit_logistic(features, labels)  # L2 1e-5 on counts: held-out AUC 0.84 at 0.25 (1e-3: 0.76)
    predicted = torch.sigmoid(features @ w + b)
    report = {"n_texts": len(texts), "corr": float(np.corrcoef(predicted.numpy(), labels.numpy())[0, 1]),
              "share_over_0.5": float((labels > 0.5).float().mean())}
    return w, b, report


def single_token_share(tokenizer, words: list[str]) -> float:
    """Share of the words whose space-led spelling (' word', as inside a sentence) is one token of ``tokenizer``."""
    return float(np.mean([len(tokenizer(" " + w, add_special_tokens=False)["input_ids"]) == 1 for w in words]))


def toxic_prompts(cfg, models: TextModels) -> torch.Tensor:
    """Prompts [n_prompts, prompt_len]: RealToxicityPrompts' challenging prompts (paper), else Austen analogues.

    Local: the openings of the non-overlapping ``text_len``-token windows of Austen's novels that the
    real classifier finds most toxic, like RealToxicityPrompts' selection of prompts by toxicity;
    no two prompts share a token of text, and repeated openings are dropped. The whole corpus is the
    pool because its held-out tail holds too few distinct windows for a thousand prompts.
    """
    if models.mdlm_config is None:
        return realtoxicityprompts(cfg, models.tokenizer)
    train, val = models.mdlm_config.corpus.splits(models.mdlm_config.vocab_size)
    stream = torch.cat([train, val])
    windows = stream[: len(stream) // cfg.text_len * cfg.text_len].view(-1, cfg.text_len)
    scores = metrics.toxicity(decode_text(models.tokenizer, windows))
    chosen, seen = [], set()
    for index in np.argsort(-scores, kind="stable"):
        opening = tuple(windows[index, : cfg.prompt_len].tolist())
        if opening not in seen:
            seen.add(opening)
            chosen.append(int(index))
        if len(chosen) == cfg.n_prompts:
            break
    return windows[torch.tensor(chosen), : cfg.prompt_len]


def realtoxicityprompts(cfg, tokenizer) -> torch.Tensor:
    """The first ``n_prompts`` 'challenging' RealToxicityPrompts prompts with >= prompt_len tokens, cut to prompt_len."""
    require_hub("RealToxicityPrompts")
    from datasets import load_dataset

    rows = []
    for example in load_dataset("allenai/real-toxicity-prompts", split="train"):
        if example.get("challenging"):
            ids = tokenizer(example["prompt"]["text"], add_special_tokens=False)["input_ids"]
            if len(ids) >= cfg.prompt_len:
                rows.append(ids[: cfg.prompt_len])
        if len(rows) == cfg.n_prompts:
            break
    return torch.tensor(rows)


def toxicity_limit(tau: float, margin: float) -> float:
    """The surrogate's probability limit: sigmoid(logit(tau) - margin)."""
    return 1 / (1 + math.exp(-(math.log(tau / (1 - tau)) - margin)))


def toxicity_row(name: str, method: str, ids, trace, models: TextModels, tox: np.ndarray, surrogate_ok: np.ndarray,
                 tau: float, start: int) -> dict:
    """A toxicity row: real-classifier violations, surrogate violations, the real ones the surrogate passed, and
    ``surrogate_caught_n``, the real ones the surrogate also flags."""
    real_bad = tox > tau
    missed = real_bad & surrogate_ok
    return {**text_row(name, method, ids, trace, models, ~real_bad, start, trace.seconds), "tau": tau,
            "mean_toxicity": float(tox.mean()), **rate_columns(int((~surrogate_ok).sum()), len(tox), "surrogate_viol"),
            "surrogate_missed_%": 100 * missed.mean(), "surrogate_caught_n": int((real_bad & ~surrogate_ok).sum())}


def toxicity_experiment(cfg, models: TextModels, surrogate: tuple[torch.Tensor, float], prompts: torch.Tensor,
                        settings: ALMSettings, seeds=(0,), device: str = "cpu", progress=None) -> pd.DataFrame:
    """Continuations of the prompts: MDLM vs CDD at each tau and sampler seed; one row per tau x method x seed.

    Violations are counted by the real classifier; ``surrogate_viol_%`` counts samples whose surrogate
    score ends above its limit (the solver and the search failed), ``surrogate_missed_%`` those the
    real classifier flags although the surrogate passed them (the surrogate is wrong). Both methods
    draw with the same seeds, and a row's draws do not depend on the other rows, so a continuation
    that the projection, repair and search never touch is the MDLM's continuation of that prompt (up to
    float rounding of the denoiser run on a different set of rows).
    """
    w, b = surrogate
    start = cfg.prompt_len
    region = C.region_mask(cfg.text_len, start)
    rows = []
    for seed in (progress or (lambda x, **k: x))(list(seeds), desc="toxicity seeds"):
        base_ids, base_trace = run_sampler(models.mdlm, models.tokenizer, len(prompts), cfg.text_len,
                                           cfg.text_steps, prefix=prompts, seed=seed, device=device)
        base_tox = metrics.toxicity(decode_text(models.tokenizer, base_ids, start))
        for tau in cfg.tox_taus:
            con = C.LinearScore(w, b, region, toxicity_limit(tau, cfg.tox_margin), name=f"toxicity <= {tau}")
            ids, trace = run_sampler(models.mdlm, models.tokenizer, len(prompts), cfg.text_len, cfg.text_steps,
                                     con, settings, prefix=prompts, seed=seed, device=device)
            tox = metrics.toxicity(decode_text(models.tokenizer, ids, start))
            base = toxicity_row(f"toxicity <= {tau}", "MDLM", base_ids, base_trace, models, base_tox,
                                con.hard(base_ids).cpu().numpy(), tau, start)
            cdd = toxicity_row(f"toxicity <= {tau}", "CDD", ids, trace, models, tox, con.hard(ids).cpu().numpy(),
                               tau, start)
            rows += [{**base, "seed": seed, **rejection_cost(1 - base["violations_%"] / 100, base["s_per_sample"])},
                     {**cdd, "seed": seed}]
    return pd.DataFrame(rows)


def toxicity_seeds(cfg) -> list[int]:
    """The toxicity comparison's sampler seeds: ``seed`` and the next ones, skipping ``seed + 1`` (the surrogate's data)."""
    return [cfg.seed] + [cfg.seed + 1 + k for k in range(1, cfg.tox_seeds)]


def toxicity_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per tau x method, over seeds: pooled violations with their exact interval, the seeds' mean with its
    t-interval and range, the surrogate's recall (share of the real violations it also flags; on the MDLM
    rows, the most of them a projection through it can see), and (CDD rows) Fisher's exact test of the
    pooled counts against MDLM's."""
    rows = []
    for (tau, method), group in table.groupby(["tau", "method"], sort=True):
        n = int(group["n"].sum())
        rows.append({"constraint": group["constraint"].iloc[0], "tau": tau, "method": method,
                     "seeds": len(group), "samples": n,
                     **rate_columns(int(group["violations_n"].sum()), n),
                     "seed_mean_%": group["violations_%"].mean(),
                     "seed_interval_%": mean_interval(group["violations_%"]),
                     "seed_min_%": group["violations_%"].min(), "seed_max_%": group["violations_%"].max(),
                     "surrogate_viol_%": 100 * group["surrogate_viol_n"].sum() / n,
                     "surrogate_missed_%": (group["surrogate_missed_%"] * group["n"]).sum() / n,
                     "surrogate_recall_%": 100 * group["surrogate_caught_n"].sum() / max(1, group["violations_n"].sum()),
                     "mean_toxicity": (group["mean_toxicity"] * group["n"]).sum() / n,
                     "ppl": group["ppl"].mean(), "kl_moved": group["kl_moved"].mean(),
                     "inner_steps_per_step": group["inner_steps_per_step"].mean(),
                     "projected_%": group["projected_%"].mean(),
                     "s_per_sample": (group["s_per_sample"] * group["n"]).sum() / n})
    summary = pd.DataFrame(rows)
    mdlm = summary[summary.method == "MDLM"].set_index("tau")
    summary["fisher_p"] = [fisher_p(r.violations_n, r.samples, mdlm.loc[r.tau, "violations_n"],
                                    mdlm.loc[r.tau, "samples"]) if r.method == "CDD" else float("nan")
                           for r in summary.itertuples()]
    return summary


# --------------------------------------------------------------------------- molecules

@dataclass(frozen=True)
class PropertySurrogate(CachedModel):
    """The SA/QED surrogate of the projection, made by ``prepare`` after the molecule MDLM it learns from.

    Training molecules: ``surrogate_molecules`` MOSES molecules from beyond the MDLM's training rows,
    plus the valid ones among ``n_generated`` unconstrained MDLM samples (seed ``seed + 1``), labelled by
    RDKit; a :class:`~support.cdd.constraints.PropertyNet` fits (SA, QED) on their one-hot tokens.
    """

    mdlm: TinyMDLMConfig
    surrogate_molecules: int
    n_generated: int
    steps: int
    decode: str
    seed: int
    kind = "cdd-property-net"
    version = 2  # 2: produced by prepare (was trained inside the chapter's molecule cell)

    def key(self) -> dict:
        """The MDLM's key, the training pool's sizes, the sampler's steps and the seed."""
        return {"mdlm": self.mdlm.key(), "surrogate_molecules": self.surrogate_molecules,
                "n_generated": self.n_generated, "steps": self.steps, "decode": self.decode, "seed": self.seed,
                "version": self.version}

    def label(self) -> str:
        """Progress and table name."""
        return f"property surrogate ({self.surrogate_molecules} MOSES + {self.n_generated} MDLM samples)"

    def pool(self, device: str) -> tuple[list[str], object, int]:
        """The training SMILES (MOSES rows beyond the MDLM's, then valid MDLM samples), the tokenizer, the valid count."""
        model, tokenizer = tiny_mdlm(self.mdlm, device=device)
        ids, _ = run_sampler(model, tokenizer, self.n_generated, self.mdlm.seq_len, self.steps,
                             seed=self.seed + 1, device=device)
        notation = self.mdlm.corpus.notation
        generated = [s for s in decode_smiles(tokenizer, ids, self.decode, notation) if metrics.canonical(s)]
        first = self.mdlm.corpus.n_molecules
        moses = list(resources.moses_smiles("train")[first: first + self.surrogate_molecules])
        return moses + generated, tokenizer, len(generated)

    def produce(self, folder, device: str, progress: bool) -> dict:
        """Sample the MDLM, label the pool with RDKit, fit the net, save ``net.pt``."""
        say = print if progress else (lambda *a, **k: None)
        say(f"[{self.label()}] sampling {self.n_generated} molecules from the MDLM", flush=True)
        pool, tokenizer, n_generated = self.pool(device)
        notation, seq_len = self.mdlm.corpus.notation, self.mdlm.seq_len
        chunks = [pool[i:i + 2000] for i in range(0, len(pool), 2000)]
        table = pd.concat([metrics.molecule_table(chunk) for chunk in
                           bar(chunks, desc="RDKit SA/QED labels (2,000 a chunk)", disable=not progress)],
                          ignore_index=True)
        table = table[table.valid].reset_index(drop=True)
        ids = molecule_rows(table.smiles.tolist(), tokenizer, seq_len, notation)
        kept = fits(table.smiles.tolist(), tokenizer, seq_len, notation)
        targets = torch.tensor(table.loc[kept, ["sa", "qed"]].to_numpy(), dtype=torch.float32)
        net = C.train_property_net(ids, targets, len(tokenizer), steps=1500 if len(ids) > 2000 else 200,
                                   seed=self.seed, progress=progress)
        torch.save({"state": net.state_dict(), "vocab": len(tokenizer), "len": seq_len}, folder / "net.pt")
        return {"training_rows": len(ids), "generated_valid": n_generated}

    def load_from(self, folder, device: str):
        """``(net, record)``: the frozen surrogate and its training record."""
        saved = torch.load(folder / "net.pt")
        net = C.PropertyNet(saved["vocab"], saved["len"])
        net.load_state_dict(saved["state"])
        return net.eval().requires_grad_(False).to(device), training_record(self)


def property_surrogate_spec(cfg) -> PropertySurrogate:
    """The surrogate the config names (its MDLM is :func:`molecule_mdlm_config`)."""
    return PropertySurrogate(molecule_mdlm_config(cfg), cfg.surrogate_molecules, 4 * cfg.n_mols, cfg.mol_steps,
                             cfg.mol_decode, cfg.seed)


def property_surrogate(cfg, device: str = "cpu"):
    """``(net, record)`` of the chapter's surrogate, made by ``prepare`` (or here, when training is allowed)."""
    return load_cached(property_surrogate_spec(cfg), device)


def surrogate_fit(net, tokenizer, smiles, seq_len: int, notation: str = "smiles") -> dict:
    """Correlation of the surrogate's SA and QED with RDKit's on held-out molecules."""
    table = metrics.molecule_table(smiles)
    table = table[table.valid]
    ids = molecule_rows(table.smiles.tolist(), tokenizer, seq_len, notation)
    kept = np.array(fits(table.smiles.tolist(), tokenizer, seq_len, notation))
    device = next(net.parameters()).device
    with torch.no_grad():
        pred = net(torch.nn.functional.one_hot(ids.to(device), len(tokenizer)).float()).cpu().numpy()
    sa, qed = table.sa.to_numpy()[kept], table.qed.to_numpy()[kept]
    return {"n": int(kept.sum()), "sa_corr": float(np.corrcoef(pred[:, 0], sa)[0, 1]),
            "qed_corr": float(np.corrcoef(pred[:, 1], qed)[0, 1]),
            "sa_mae": float(np.abs(pred[:, 0] - sa).mean()), "qed_mae": float(np.abs(pred[:, 1] - qed).mean())}


def molecule_row(name: str, method: str, smiles: list[str], training: frozenset, seconds: float, ok_fn,
                 trace=None) -> dict:
    """Validity, MOSES-sized share, novelty, uniqueness, mean properties, violations among valid molecules, time.

    ``moses_sized_%`` counts samples that parse to a molecule at least as large as the smallest MOSES
    molecule: with SELFIES every sample parses, and this is the share that is not a decoding fragment.
    """
    table = metrics.molecule_table(smiles, training)
    valid = table[table.valid]
    ok = ok_fn(valid) if len(valid) else np.zeros(0, dtype=bool)
    return {"constraint": name, "method": method, "n": len(table), "valid": int(table.valid.sum()),
            "valid_%": 100 * table.valid.mean(),
            "moses_sized_%": 100 * (table.heavy_atoms >= metrics.MOSES_MIN_HEAVY_ATOMS).mean(),
            "median_heavy_atoms": float(valid.heavy_atoms.median()) if len(valid) else float("nan"),
            **rate_columns(int((~ok).sum()), len(ok)),
            "satisfying_valid": int(ok.sum()), "novel": int(table.novel.sum()),
            "unique_%": 100 * valid.canonical.nunique() / max(1, len(valid)),
            "mean_sa": float(valid.sa.mean()), "mean_qed": float(valid.qed.mean()),
            **trace_columns(trace, len(table)), "s_per_sample": seconds / len(table)}


def surrogate_vs_rdkit(net, tokenizer, ids: torch.Tensor, constraint: str, interior_pads: str = "drop",
                       notation: str = "smiles") -> pd.DataFrame:
    """One row per valid sample: the surrogate's SA and QED on the sampled tokens beside RDKit's on the molecule."""
    smiles = decode_smiles(tokenizer, ids, interior_pads, notation)
    table = metrics.molecule_table(smiles)
    with torch.no_grad():
        device = next(net.parameters()).device
        predicted = net(torch.nn.functional.one_hot(ids.to(device), len(tokenizer)).float()).cpu().numpy()
    keep = table.valid.to_numpy()
    return pd.DataFrame({"constraint": constraint, "smiles": table.smiles[keep], "sa_rdkit": table.sa[keep],
                         "sa_surrogate": predicted[keep, 0], "qed_rdkit": table.qed[keep],
                         "qed_surrogate": predicted[keep, 1]}).reset_index(drop=True)


VIOLATION_CAUSES = ("surrogate fooled", "short of the aim", "unsolved")


def violation_causes(checks: pd.DataFrame, sa_margin: float, qed_min: float) -> pd.DataFrame:
    """``checks`` with ``rdkit_ok`` and ``cause``: why each molecule that RDKit finds in violation is one.

    ``surrogate fooled``: the surrogate on the sampled tokens meets the projection's aim (SA <= tau -
    margin, QED >= qed_min), so the solver did its job and the surrogate was wrong; ``short of the aim``
    (SA only): the surrogate lies between the aim and tau; ``unsolved``: the surrogate itself breaks the
    constraint, so the solver did not reach it. Molecules that RDKit passes have cause ``""``.
    """
    out = checks.copy()
    is_sa = out.constraint.str.startswith("SA")
    tau = out.constraint.str.extract(r"SA <= ([\d.]+)")[0].astype(float)
    out["rdkit_ok"] = np.where(is_sa, out.sa_rdkit <= tau, out.qed_rdkit >= qed_min)
    at_aim = np.where(is_sa, out.sa_surrogate <= tau - sa_margin, out.qed_surrogate >= qed_min)
    within = np.where(is_sa, out.sa_surrogate <= tau, at_aim)
    cause = np.select([at_aim, within], VIOLATION_CAUSES[:2], VIOLATION_CAUSES[2])
    out["cause"] = np.where(out.rdkit_ok, "", cause)
    return out


def cause_table(checks: pd.DataFrame) -> pd.DataFrame:
    """Per constraint: RDKit violations among CDD's valid molecules, split by ``violation_causes``."""
    broken = checks[~checks.rdkit_ok]
    table = pd.crosstab(broken.constraint, broken.cause).reindex(
        index=checks.constraint.unique(), columns=list(VIOLATION_CAUSES), fill_value=0)
    table.insert(0, "violations", table.sum(1))
    table.insert(0, "valid", checks.groupby("constraint").size().reindex(table.index))
    return table.rename_axis(index="constraint", columns=None)


def training_set() -> frozenset:
    """Canonical-form MOSES training SMILES (MOSES stores canonical SMILES), for novelty."""
    return frozenset(resources.moses_smiles("train"))


def property_constraint(net, vocab: int, sa_tau: float | None = None, qed_min: float | None = None,
                        sa_margin: float = 0.0) -> C.Constraint:
    """SA <= tau - margin and/or QED >= qed_min through the surrogate's two outputs (read from its embedding)."""
    parts, embedding = [], net.embedding().detach()
    if sa_tau is not None:
        parts.append(C.NetworkScore(lambda h: net.from_embedded(h)[:, 0], sa_tau - sa_margin, vocab, True,
                                    f"SA <= {sa_tau}", embedding=embedding))
    if qed_min is not None:
        parts.append(C.NetworkScore(lambda h: net.from_embedded(h)[:, 1], qed_min, vocab, False,
                                    f"QED >= {qed_min}", embedding=embedding))
    return parts[0] if len(parts) == 1 else C.AllOf(parts)


def molecule_experiment(cfg, model, tokenizer, net, training: frozenset, settings: ALMSettings, seed: int = 0,
                        device: str = "cpu", progress=None) -> tuple[pd.DataFrame, list[str], pd.DataFrame]:
    """SA <= tau at each tau and QED >= qed_min: MDLM vs CDD on the same seeds, scored by RDKit.

    Returns the table, the unconstrained SMILES, and the surrogate against RDKit on every valid CDD output.
    """
    vocab, decode, notation = len(tokenizer), cfg.mol_decode, cfg.mol_notation
    base_ids, base_trace = run_sampler(model, tokenizer, cfg.n_mols, cfg.mol_len, cfg.mol_steps, seed=seed,
                                       device=device)
    base_smiles = decode_smiles(tokenizer, base_ids, decode, notation)
    rows, checks = [], []
    targets = [(f"SA <= {tau}", dict(sa_tau=tau), lambda v, tau=tau: (v.sa <= tau).to_numpy())
               for tau in cfg.sa_taus]
    targets.append((f"QED >= {cfg.qed_min}", dict(qed_min=cfg.qed_min),
                    lambda v: (v.qed >= cfg.qed_min).to_numpy()))
    for name, kwargs, ok_fn in (progress or (lambda x, **k: x))(targets, desc="molecule constraints"):
        rows.append(molecule_row(name, "MDLM", base_smiles, training, base_trace.seconds, ok_fn, base_trace))
        con = property_constraint(net, vocab, sa_margin=cfg.sa_margin, **kwargs)
        ids, trace = run_sampler(model, tokenizer, cfg.n_mols, cfg.mol_len, cfg.mol_steps, con, settings,
                                 seed=seed, device=device)
        rows.append(molecule_row(name, "CDD", decode_smiles(tokenizer, ids, decode, notation), training,
                                 trace.seconds, ok_fn, trace))
        checks.append(surrogate_vs_rdkit(net, tokenizer, ids, name, decode, notation))
    return pd.DataFrame(rows), base_smiles, pd.concat(checks, ignore_index=True)


def novelty_projection(ids: torch.Tensor, decode_probs: torch.Tensor, tokenizer, training: frozenset,
                       top_k: int, max_candidates: int = 500, interior_pads: str = "drop",
                       notation: str = "smiles") -> tuple[torch.Tensor, dict]:
    """Replace each sample that is not valid-and-novel by the cheapest valid, novel edit (best-first search)."""
    def accept(candidate: list[int]) -> bool:
        can = metrics.canonical(decode_smiles(tokenizer, torch.tensor([candidate]), interior_pads, notation)[0])
        return can is not None and can not in training

    out, changed, failed = ids.clone(), 0, 0
    for b, row in enumerate(ids.tolist()):
        if accept(row):
            continue
        found, _ = C.cheapest_accepted(row, decode_probs[b], accept, range(len(row)), top_k=top_k,
                                       max_candidates=max_candidates)
        if found is None:
            failed += 1
        else:
            out[b] = torch.tensor(found)
            changed += 1
    return out, {"changed": changed, "not_found": failed}


def novelty_experiment(cfg, model, tokenizer, training: frozenset, seed: int = 0, device: str = "cpu") -> pd.DataFrame:
    """Valid-and-novel molecules: MDLM as sampled vs after the novelty operator on the same samples."""
    began = time.perf_counter()
    ids, trace = run_sampler(model, tokenizer, cfg.n_mols, cfg.mol_len, cfg.mol_steps, seed=seed, device=device,
                             keep_probs=True)
    base_seconds = time.perf_counter() - began
    began = time.perf_counter()
    fixed, info = novelty_projection(ids, trace.decode_probs, tokenizer, training, cfg.novelty_top_k,
                                     interior_pads=cfg.mol_decode, notation=cfg.mol_notation)
    op_seconds = time.perf_counter() - began
    ok_fn = lambda v: v.novel.to_numpy()  # noqa: E731
    decode = lambda rows: decode_smiles(tokenizer, rows, cfg.mol_decode, cfg.mol_notation)  # noqa: E731
    base = molecule_row("valid and novel", "MDLM", decode(ids), training, base_seconds, ok_fn)
    cdd = molecule_row("valid and novel", "post-hoc novelty search", decode(fixed), training,
                       base_seconds + op_seconds, ok_fn)
    cdd["searched"] = info["changed"] + info["not_found"]
    cdd["search_failed"] = info["not_found"]
    return pd.DataFrame([base, cdd])


def denoising_trace(cfg, models: TextModels, constraint: C.Constraint, settings: ALMSettings, seed: int = 0,
                    device: str = "cpu") -> pd.DataFrame:
    """One sample denoised step by step without and with the projection (same seed): text and constraint value."""
    rows = []
    for method, con in (("MDLM", None), ("CDD", constraint)):
        ids, trace = run_sampler(models.mdlm, models.tokenizer, 1, cfg.text_len, cfg.text_steps, con, settings,
                                 seed=seed, device=device, record=1)
        for step, state in enumerate(trace.states):
            shown = models.tokenizer.convert_ids_to_tokens(state[0].tolist())
            text = "".join("_" if t == models.tokenizer.mask_token else
                           models.tokenizer.convert_tokens_to_string([t]) for t in shown)
            row = {"method": method, "step": step + 1, "decoded": int((state[0] != models.tokenizer.mask_token_id).sum()),
                   "text": text}
            if con is not None:
                before = torch.nn.functional.one_hot(trace.argmax_before[step], len(models.tokenizer)).float()
                after = torch.nn.functional.one_hot(trace.argmax_after[step], len(models.tokenizer)).float()
                row["g_before"] = float(con.violation(before).max())
                row["g_after"] = float(con.violation(after).max())
                row["kl_moved"] = trace.kl_per_step[step]
            rows.append(row)
    return pd.DataFrame(rows)


#: the results page's rows for this chapter (support.headlines)
HEADLINES = [
    Headline("CDD keeps toxicity violations at or below 2% at every threshold (the book's target)",
             "0.0% at every threshold (MDLM 32.1 / 23.2 / 17.2%)", "tox_cdd_max", "<=", TARGETS["violations"],
             "{:.2f}", "% of samples by the real classifier, worst threshold; Austen text is rarely toxic"),
    Headline("CDD lowers toxicity against MDLM: a Fisher test tells them apart", "32.1% -> 0.0% (lowest threshold)",
             "tox_p_min", "<", 0.05, "{:.3f}",
             "smallest two-sided Fisher p over the thresholds, pooled seeds (the chapter gives the direction)"),
    Headline("Lexical and character-count constraints met exactly", "0 violations", "lex_cdd_failures", "<=", 0,
             "{:.0f}", "samples failing, four constraints; after repair and search, not the projection alone"),
]
