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
from ..cache import atomic_dir, cache_dir, is_complete, stable_hash
from ..models import (
    AUSTEN,
    TinyLMConfig,
    TinyMDLMConfig,
    hub,
    load_masked_lm,
    perplexity,
    require_hub,
    sample_windows,
    tiny_lm,
    tiny_mdlm,
)
from ..profiles import Param
from . import constraints as C
from . import diffusion, metrics
from .projection import ALMSettings, projector
from .smiles import SmilesCorpus, smiles_rows

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
    "n_prompts": Param(int, smoke=8, local=128, paper=1000, low=2),
    "tox_taus": Param(float, many=True, smoke=(0.5,), local=(0.25, 0.5, 0.75), paper=(0.25, 0.5, 0.75), low=0.0,
                      high=1.0, help="toxicity thresholds tau"),
    "tox_margin": Param(float, smoke=1.0, local=1.0, paper=1.0, low=0.0,
                        help="surrogate threshold = logit(tau) - margin (safety margin for surrogate error)"),
    "mol_len": Param(int, smoke=64, local=64, paper=64, low=8),
    "mol_steps": Param(int, smoke=8, local=64, paper=64, low=1),
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
}

RESOURCES = ("austen", "moses")

TEXT_MDLM = TinyMDLMConfig(corpus=AUSTEN, seq_len=32, steps=2500, batch_size=64)
MOLECULE_MDLM = TinyMDLMConfig(corpus=SmilesCorpus(200_000), seq_len=64, steps=3500, batch_size=64, lr=2e-3)
SMOKE_TEXT_MDLM = TinyMDLMConfig(corpus=AUSTEN, seq_len=16, d_model=32, n_layers=1, n_heads=2, d_ff=64, steps=30,
                                 batch_size=8, log_every=10)
SMOKE_MOLECULE_MDLM = TinyMDLMConfig(corpus=SmilesCorpus(2000), seq_len=64, d_model=32, n_layers=1, n_heads=2,
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
    return replace(base, seq_len=cfg.mol_len)


def models(cfg) -> list:
    """The cached models of the chapter: text MDLM, judge and molecule MDLM (those trained here)."""
    return [m for m in (text_mdlm_config(cfg), judge_config(cfg), molecule_mdlm_config(cfg)) if m is not None]


def alm_settings(cfg, seed: int = 0) -> ALMSettings:
    """The projection's solver settings from the chapter's parameters."""
    return ALMSettings(outer_steps=cfg.alm_outer, inner_steps=cfg.alm_inner, lr=cfg.alm_lr, seed=seed)


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


def decode_smiles(tokenizer, ids: torch.Tensor) -> list[str]:
    """SMILES of each row: its tokens up to the first ``<|pad|>`` (mask tokens, if any, make it invalid)."""
    out = []
    for row in ids.cpu().tolist():
        cut = row.index(tokenizer.pad_token_id) if tokenizer.pad_token_id in row else len(row)
        tokens = row[:cut]
        out.append("!" if tokenizer.mask_token_id in tokens else tokenizer.decode(tokens, skip_special_tokens=True))
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
                search_top_k: int = 3):
    """Sample ``n`` sequences, projected onto ``constraint`` when given; returns (ids, trace).

    A constrained sample that still fails the exact check at the end (its surrogate was satisfied
    but the decoded string is not, e.g. a word formed across two tokens) goes through the same
    best-first search as novelty: the cheapest change among each position's top-k tokens that
    passes the exact check. ``trace.searched`` counts them, ``trace.search_failed`` the unrepaired.
    """
    project = None if constraint is None else projector(constraint, settings or ALMSettings())
    feasible = None if constraint is None else constraint.hard
    began = time.perf_counter()
    ids, trace = diffusion.sample(model, n, seq_len, steps, tokenizer.mask_token_id, prefix=prefix, project=project,
                                  feasible=feasible, seed=seed, device=device, record=record,
                                  keep_probs=keep_probs or constraint is not None)
    trace.searched = trace.search_failed = 0
    if constraint is not None:
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


def text_row(name, method, ids, trace, models: TextModels, ok: np.ndarray, start: int, n_seconds: float) -> dict:
    """One table row: violation rate, judge perplexity, diversity, KL moved, time per sample."""
    bos = models.judge_tokenizer.bos_token_id
    return {"constraint": name, "method": method, "violations_%": 100 * (1 - ok.mean()),
            "ppl": perplexity(models.judge, ids.cpu(), start, bos_id=bos),
            "distinct_2": metrics.distinct_n(ids[:, start:].tolist(), 2),
            "kl_moved": float(np.mean(trace.kl_moved)) if trace and trace.kl_moved else 0.0,
            "repairs": trace.repairs if trace else 0, "searched": getattr(trace, "searched", 0),
            "s_per_sample": n_seconds / len(ids)}


def lexical_experiment(cfg, models: TextModels, settings: ALMSettings, seed: int = 0, device: str = "cpu",
                       progress=None) -> tuple[pd.DataFrame, dict]:
    """Every lexical constraint: unconstrained vs CDD on the same seeds; rejection estimated from the former."""
    cons = lexical_constraints(cfg, models.tokenizer)
    base_ids, base_trace = run_sampler(models.mdlm, models.tokenizer, cfg.n_text, cfg.text_len, cfg.text_steps,
                                       seed=seed, device=device)
    rows, samples = [], {"MDLM": decode_text(models.tokenizer, base_ids)}
    for name, con in (progress or (lambda x, **k: x))(cons.items(), desc="lexical constraints"):
        base_ok = con.hard(base_ids).cpu().numpy()
        base = text_row(name, "MDLM", base_ids, base_trace, models, base_ok, 0, base_trace.seconds)
        rows.append({**base, **rejection_cost(base_ok.mean(), base["s_per_sample"])})
        ids, trace = run_sampler(models.mdlm, models.tokenizer, cfg.n_text, cfg.text_len, cfg.text_steps, con,
                                 settings, seed=seed, device=device)
        rows.append(text_row(name, "CDD", ids, trace, models, con.hard(ids).cpu().numpy(), 0, trace.seconds))
        samples[name] = decode_text(models.tokenizer, ids)
    return pd.DataFrame(rows), samples


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


def toxic_prompts(cfg, models: TextModels, n_candidates: int = 20000, seed: int = 1) -> torch.Tensor:
    """Prompts [n_prompts, prompt_len]: RealToxicityPrompts' challenging prompts (paper), else Austen analogues.

    Local: the openings of the held-out Austen windows the real classifier finds most toxic, like
    RealToxicityPrompts' selection of prompts by toxicity.
    """
    if models.mdlm_config is None:
        return realtoxicityprompts(cfg, models.tokenizer)
    windows = corpus_windows(models, n_candidates, cfg.text_len, "val", seed)
    scores = metrics.toxicity(decode_text(models.tokenizer, windows))
    order = np.argsort(-scores)[: cfg.n_prompts]
    return windows[torch.as_tensor(order.copy()), : cfg.prompt_len]


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


def toxicity_experiment(cfg, models: TextModels, surrogate: tuple[torch.Tensor, float], prompts: torch.Tensor,
                        settings: ALMSettings, seed: int = 0, device: str = "cpu") -> pd.DataFrame:
    """Continuations of the prompts: MDLM vs CDD at each tau, violations by the real classifier."""
    w, b = surrogate
    start = cfg.prompt_len
    region = C.region_mask(cfg.text_len, start)
    base_ids, base_trace = run_sampler(models.mdlm, models.tokenizer, len(prompts), cfg.text_len, cfg.text_steps,
                                       prefix=prompts, seed=seed, device=device)
    base_tox = metrics.toxicity(decode_text(models.tokenizer, base_ids, start))
    rows = []
    for tau in cfg.tox_taus:
        limit = 1 / (1 + math.exp(-(math.log(tau / (1 - tau)) - cfg.tox_margin)))
        con = C.LinearScore(w, b, region, limit, name=f"toxicity <= {tau}")
        ids, trace = run_sampler(models.mdlm, models.tokenizer, len(prompts), cfg.text_len, cfg.text_steps, con,
                                 settings, prefix=prompts, seed=seed, device=device)
        tox = metrics.toxicity(decode_text(models.tokenizer, ids, start))
        base_row = text_row(f"toxicity <= {tau}", "MDLM", base_ids, base_trace, models, base_tox <= tau, start,
                            base_trace.seconds)
        rows.append({**base_row, "tau": tau, "mean_toxicity": float(base_tox.mean()),
                     **rejection_cost(float((base_tox <= tau).mean()), base_row["s_per_sample"])})
        rows.append({**text_row(f"toxicity <= {tau}", "CDD", ids, trace, models, tox <= tau, start, trace.seconds),
                     "tau": tau, "mean_toxicity": float(tox.mean())})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- molecules

def property_surrogate(cfg, tokenizer, mol_cfg: TinyMDLMConfig, extra_smiles=(), seed: int = 0):
    """A :class:`~support.cdd.constraints.PropertyNet` predicting (SA, QED), trained on RDKit labels (cached).

    Training molecules: ``surrogate_molecules`` MOSES molecules from beyond the MDLM's training rows,
    plus ``extra_smiles`` (valid generated molecules), labelled by RDKit.
    """
    train = resources.moses_smiles("train")
    first = mol_cfg.corpus.n_molecules
    pool = list(train[first: first + cfg.surrogate_molecules]) + list(extra_smiles)
    key = stable_hash({"pool": stable_hash(pool), "len": cfg.mol_len, "vocab": len(tokenizer), "seed": seed})
    folder = cache_dir() / "models" / f"cdd-property-net-{key}"
    if not is_complete(folder):
        table = metrics.molecule_table(pool)
        table = table[table.valid].reset_index(drop=True)
        ids = smiles_rows(table.smiles.tolist(), tokenizer, cfg.mol_len)
        fits = [len(tokenizer(s, add_special_tokens=False)["input_ids"]) <= cfg.mol_len for s in table.smiles]
        targets = torch.tensor(table.loc[fits, ["sa", "qed"]].to_numpy(), dtype=torch.float32)
        net = C.train_property_net(ids, targets, len(tokenizer), steps=1500 if len(ids) > 2000 else 200, seed=seed)
        with atomic_dir(folder, {"n": len(ids)}) as scratch:
            torch.save({"state": net.state_dict(), "vocab": len(tokenizer), "len": cfg.mol_len}, scratch / "net.pt")
    saved = torch.load(folder / "net.pt")
    net = C.PropertyNet(saved["vocab"], saved["len"])
    net.load_state_dict(saved["state"])
    return net.eval().requires_grad_(False)


def surrogate_fit(net, tokenizer, smiles, seq_len: int) -> dict:
    """Correlation of the surrogate's SA and QED with RDKit's on held-out molecules."""
    table = metrics.molecule_table(smiles)
    table = table[table.valid]
    ids = smiles_rows(table.smiles.tolist(), tokenizer, seq_len)
    fits = np.array([len(tokenizer(s, add_special_tokens=False)["input_ids"]) <= seq_len for s in table.smiles])
    with torch.no_grad():
        pred = net(torch.nn.functional.one_hot(ids, len(tokenizer)).float()).numpy()
    sa, qed = table.sa.to_numpy()[fits], table.qed.to_numpy()[fits]
    return {"n": int(fits.sum()), "sa_corr": float(np.corrcoef(pred[:, 0], sa)[0, 1]),
            "qed_corr": float(np.corrcoef(pred[:, 1], qed)[0, 1]),
            "sa_mae": float(np.abs(pred[:, 0] - sa).mean()), "qed_mae": float(np.abs(pred[:, 1] - qed).mean())}


def molecule_row(name: str, method: str, smiles: list[str], training: frozenset, seconds: float, ok_fn,
                 trace=None) -> dict:
    """Validity, novelty, uniqueness, mean properties, violations among valid molecules, time per sample."""
    table = metrics.molecule_table(smiles, training)
    valid = table[table.valid]
    ok = ok_fn(valid) if len(valid) else np.zeros(0, dtype=bool)
    return {"constraint": name, "method": method, "n": len(table), "valid": int(table.valid.sum()),
            "valid_%": 100 * table.valid.mean(),
            "violations_%": 100 * (1 - ok.mean()) if len(ok) else float("nan"),
            "satisfying_valid": int(ok.sum()), "novel": int(table.novel.sum()),
            "unique_%": 100 * valid.canonical.nunique() / max(1, len(valid)),
            "mean_sa": float(valid.sa.mean()), "mean_qed": float(valid.qed.mean()),
            "kl_moved": float(np.mean(trace.kl_moved)) if trace and trace.kl_moved else 0.0,
            "repairs": trace.repairs if trace else 0, "searched": getattr(trace, "searched", 0),
            "s_per_sample": seconds / len(table)}


def training_set() -> frozenset:
    """Canonical-form MOSES training SMILES (MOSES stores canonical SMILES), for novelty."""
    return frozenset(resources.moses_smiles("train"))


def property_constraint(net, vocab: int, sa_tau: float | None = None, qed_min: float | None = None,
                        sa_margin: float = 0.0) -> C.Constraint:
    """SA <= tau - margin and/or QED >= qed_min through the surrogate's two outputs."""
    parts = []
    if sa_tau is not None:
        parts.append(C.NetworkScore(lambda soft: net(soft)[:, 0], sa_tau - sa_margin, vocab, True, f"SA <= {sa_tau}"))
    if qed_min is not None:
        parts.append(C.NetworkScore(lambda soft: net(soft)[:, 1], qed_min, vocab, False, f"QED >= {qed_min}"))
    return parts[0] if len(parts) == 1 else C.AllOf(parts)


def molecule_experiment(cfg, model, tokenizer, net, training: frozenset, settings: ALMSettings, seed: int = 0,
                        device: str = "cpu", progress=None) -> tuple[pd.DataFrame, list[str]]:
    """SA <= tau at each tau and QED >= qed_min: MDLM vs CDD on the same seeds, scored by RDKit."""
    vocab = len(tokenizer)
    base_ids, base_trace = run_sampler(model, tokenizer, cfg.n_mols, cfg.mol_len, cfg.mol_steps, seed=seed,
                                       device=device)
    base_smiles = decode_smiles(tokenizer, base_ids)
    rows = []
    targets = [(f"SA <= {tau}", dict(sa_tau=tau), lambda v, tau=tau: (v.sa <= tau).to_numpy())
               for tau in cfg.sa_taus]
    targets.append((f"QED >= {cfg.qed_min}", dict(qed_min=cfg.qed_min),
                    lambda v: (v.qed >= cfg.qed_min).to_numpy()))
    for name, kwargs, ok_fn in (progress or (lambda x, **k: x))(targets, desc="molecule constraints"):
        rows.append({**molecule_row(name, "MDLM", base_smiles, training, base_trace.seconds, ok_fn, base_trace)})
        con = property_constraint(net, vocab, sa_margin=cfg.sa_margin, **kwargs)
        ids, trace = run_sampler(model, tokenizer, cfg.n_mols, cfg.mol_len, cfg.mol_steps, con, settings,
                                 seed=seed, device=device)
        rows.append(molecule_row(name, "CDD", decode_smiles(tokenizer, ids), training, trace.seconds, ok_fn, trace))
    return pd.DataFrame(rows), base_smiles


def novelty_projection(ids: torch.Tensor, decode_probs: torch.Tensor, tokenizer, training: frozenset,
                       top_k: int, max_candidates: int = 500) -> tuple[torch.Tensor, dict]:
    """Replace each sample that is not valid-and-novel by the cheapest valid, novel edit (best-first search)."""
    def accept(candidate: list[int]) -> bool:
        can = metrics.canonical(decode_smiles(tokenizer, torch.tensor([candidate]))[0])
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
    fixed, info = novelty_projection(ids, trace.decode_probs, tokenizer, training, cfg.novelty_top_k)
    op_seconds = time.perf_counter() - began
    ok_fn = lambda v: v.novel.to_numpy()  # noqa: E731
    base = molecule_row("valid and novel", "MDLM", decode_smiles(tokenizer, ids), training, base_seconds, ok_fn)
    cdd = molecule_row("valid and novel", "CDD (novelty search)", decode_smiles(tokenizer, fixed), training,
                       base_seconds + op_seconds, ok_fn)
    cdd["repairs"] = info["changed"]
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
                row["kl_moved"] = trace.kl_moved[step]
            rows.append(row)
    return pd.DataFrame(rows)
