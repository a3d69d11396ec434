"""Chapter 5: low-bit quantization favours undertrained LLMs (Ouyang et al., ACL 2025, arXiv 2411.17691).

The pipeline of the chapter: a Pythia-style family (same data in the same order for every size,
log-spaced checkpoints, cosine decay) plus one learning-rate-schedule arm (warmup-stable-decay,
whose stable phase is a constant-LR run), every checkpoint quantized with GPTQ or RTN
(:mod:`support.qid.quantization`) at several bit widths, and QiD = loss(quantized) - loss(full
precision) on a fixed held-out split, ready for the fits of :mod:`support.qid.scaling`. Every
function returns a tidy DataFrame or plain numbers; nothing is kept between calls.

Where this differs from the paper: ``local`` trains GPT-NeoX models of 25k-790k non-embedding
parameters on 6.1 M tokens of a 20.7 M-token English mix (:data:`~support.models.corpora.ENGLISH_MIX`:
Austen, two Bibles, two commentaries, a dictionary; every window seen once, as Pythia saw its data
about once) instead of Pythia-70M..12B on 300 B tokens of the Pile; GPTQ is calibrated on training
windows and QiD measured on windows spread over the corpus' held-out hundredth, with standard
errors over windows.
The schedule arm follows Catalan-Tatjer et al.'s critique (arXiv 2510.06213) that QiD's growth tracks
learning-rate decay rather than tokens. ``paper`` loads ``EleutherAI/pythia-*`` at revisions
``step{N}`` (2,097,152 tokens a step) and WikiText-2 through ``datasets``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from .. import resources
from ..headlines import Headline
from ..models import (HubUnavailable, TinyLMConfig, hub, non_embedding_params, sample_windows, spread_windows, tiny_lm,
                      window_losses)
from ..models.corpora import AUSTEN, ENGLISH_MIX, ENGLISH_MIX_SOURCES
from ..profiles import Config, Param
from ..progress import bar
from .quantization import QuantConfig, collect_hessians, quantize_model
from .scaling import (
    PAPER_ONE_FACTOR,
    PAPER_UNIFIED,
    PYTHIA_NON_EMBEDDING,
    PYTHIA_TOKENS_PER_STEP,
    Fit,
    clustered_family,
    fit_one_factor,
    fit_per_bits,
    fit_qid,
    qid_law,
    tokens_for_qid,
)

PYTHIA_SUITE = ("EleutherAI/pythia-70m", "EleutherAI/pythia-160m", "EleutherAI/pythia-410m", "EleutherAI/pythia-1b")
PYTHIA_STEPS = (1000, 2000, 4000, 8000, 16000, 32000, 64000, 100000, 143000)
# log-spaced over 2.4 decades of D, as Pythia's early checkpoints (Pythia then saves every 1,000 steps)
LOCAL_STEPS = (12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3000)
CORPORA = {"austen": AUSTEN, "english-mix": ENGLISH_MIX}

PARAMS = {
    "sizes": Param(str, many=True, smoke=("16x1", "32x1"), local=("32x2", "48x2", "64x2", "96x3", "128x4"),
                   paper=PYTHIA_SUITE, help="family members: 'WIDTHxLAYERS' tiny GPT-NeoX models trained here, or hub ids"),
    "checkpoints": Param(int, many=True, smoke=(10, 20, 40), local=LOCAL_STEPS, paper=PYTHIA_STEPS, low=1,
                         help="training steps whose checkpoints are quantized (the last is the final model)"),
    "corpus": Param(str, smoke="austen", local="english-mix", paper="english-mix", choices=tuple(CORPORA),
                    help="training text of the tiny members: 'english-mix' (20.7 M tokens, each seen once) or 'austen'"),
    "train_steps": Param(int, smoke=40, local=3000, paper=143000, low=1, help="steps of each tiny run"),
    "batch_size": Param(int, smoke=8, local=16, paper=1024, low=1, help="sequences per training step"),
    "seq_len": Param(int, smoke=64, local=128, paper=2048, low=8, help="tokens per training/eval window"),
    "lr": Param(float, smoke=3e-3, local=3e-3, paper=1e-3, low=1e-6, high=1.0, help="peak learning rate"),
    "warmup_steps": Param(int, smoke=4, local=100, paper=1430, low=0),
    "vocab_size": Param(int, smoke=2048, local=2048, paper=50304, low=300),
    "schedule_arm": Param(str, smoke="wsd", local="wsd", paper="none", choices=("wsd", "constant", "none"),
                          help="extra arm of one size trained with another learning-rate schedule"),
    "arm_size": Param(str, smoke="16x1", local="64x2", paper="", help="the member the schedule arm retrains"),
    "bits": Param(int, many=True, smoke=(2, 4, 8), local=(2, 3, 4, 8), paper=(2, 3, 4, 8), low=2, high=8,
                  help="bit widths, each in 2..8"),
    "method": Param(str, smoke="gptq", local="gptq", paper="gptq", choices=("gptq", "rtn")),
    "group_size": Param(int, smoke=0, local=0, paper=128, low=0,
                        help="0 = one grid per output channel; paper: 128, AutoGPTQ's default (assumed)"),
    "sequential": Param(bool, smoke=True, local=True, paper=True,
                        help="GPTQ block by block on the quantized blocks' outputs (False: one full-precision pass)"),
    "calibration_windows": Param(int, smoke=4, local=32, paper=128, low=1, help="GPTQ calibration windows"),
    "eval_tokens": Param(int, smoke=2048, local=16384, paper=262144, low=64,
                         help="held-out tokens per loss, in windows spread over the held-out split"),
    "fit_bits": Param(int, many=True, smoke=(2, 4), local=(2, 3, 4), paper=(2, 3, 4), low=2, high=8,
                      help="bit widths in the fits (8-bit QiD sits in the evaluation noise; logs of noise mislead)"),
    "fit_min_tokens_per_param": Param(float, smoke=0.0, local=2.0, paper=0.0, low=0.0,
                                      help="checkpoints with fewer training tokens per non-embedding parameter are "
                                           "shown but left out of the fits"),
    "fully_trained_qid": Param(float, smoke=0.2, local=0.2, paper=0.2, low=1e-4,
                               help="2-bit QiD taken as 'fully trained' when inverting the law (Table 1)"),
    "bootstrap": Param(int, smoke=50, local=1000, paper=1000, low=10, help="bootstrap resamples per fit"),
    "coverage_families": Param(int, smoke=10, local=60, paper=60, low=1,
                               help="simulated families on which point and member bootstrap intervals are checked"),
}
RESOURCES = ("austen", "kjv", "web-bible", "mhcc", "tdavid", "gcide")


def parse_size(text: str) -> tuple[int, int]:
    """``"64x2"`` -> (d_model=64, n_layers=2)."""
    try:
        width, layers = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size {text!r} must look like WIDTHxLAYERS, e.g. '64x2', or be a hub id") from None
    if width < 16 or width % 16 or layers < 1:
        raise ValueError(f"size {text!r} needs a width that is a multiple of 16 (>= 16) and >= 1 layer")
    return width, layers


@dataclass(frozen=True)
class Member:
    """One model of the family and the checkpoints to measure: trained here (``tiny``) or a hub id."""

    name: str
    arm: str
    steps: tuple[int, ...]
    tokens_per_step: int
    tiny: TinyLMConfig | None = None
    hub_id: str | None = None

    def load(self, step: int, device: str = "cpu"):
        """``(model, tokenizer)`` at checkpoint ``step``."""
        if self.tiny is not None:
            return tiny_lm(self.tiny, revision=f"step{step}", device=device)
        return hub(self.hub_id, revision=f"step{step}", device=device)

    def tokens(self, step: int) -> int:
        """Training tokens seen at ``step``."""
        return step * self.tokens_per_step


def tiny_config(cfg: Config, size: str, schedule: str = "cosine") -> TinyLMConfig:
    """The GPT-NeoX config of one local family member (every member shares data order and seed)."""
    width, layers = parse_size(size)
    beyond = [s for s in cfg.checkpoints if s > cfg.train_steps]
    if beyond:
        raise ValueError(f"checkpoints {beyond} lie beyond train_steps={cfg.train_steps}: raise train_steps or drop them")
    steps = tuple(sorted(set(cfg.checkpoints) | {cfg.train_steps}))  # the final model is always measured
    return TinyLMConfig(arch="gpt_neox", vocab_size=cfg.vocab_size, d_model=width, n_layers=layers,
                        n_heads=max(1, width // 16), d_ff=4 * width, seq_len=cfg.seq_len,
                        batch_size=cfg.batch_size, steps=cfg.train_steps, lr=cfg.lr,
                        warmup_steps=cfg.warmup_steps, schedule=schedule, seed=cfg.seed, data_seed=cfg.seed,
                        checkpoint_steps=steps, log_every=max(1, cfg.train_steps // 100),
                        corpus=CORPORA[cfg.corpus], windows="disjoint")


def tiny_member(cfg: Config, size: str, schedule: str = "cosine") -> Member:
    """A family member trained here: ``size`` ('64x2') on ``schedule``, named d<size>."""
    tiny = tiny_config(cfg, size, schedule)
    return Member(f"d{size}", schedule, tiny.checkpoint_steps, tiny.batch_size * tiny.seq_len, tiny=tiny)


def family(cfg: Config) -> list[Member]:
    """The chapter's members: every size on the cosine schedule, plus the schedule arm if asked for."""
    steps = cfg.checkpoints
    members = []
    for size in cfg.sizes:
        if "/" in size:  # a hub id (paper profile): Pythia's revisions
            members.append(Member(size.split("/")[-1], "cosine", steps, PYTHIA_TOKENS_PER_STEP, hub_id=size))
        else:
            members.append(tiny_member(cfg, size))
    if cfg.schedule_arm != "none":
        if "/" in cfg.arm_size or not cfg.arm_size:
            raise ValueError("schedule_arm needs arm_size = a tiny size such as '64x2' (hub models have one schedule);"
                             " set schedule_arm='none' for hub families")
        members.append(tiny_member(cfg, cfg.arm_size, cfg.schedule_arm))
    return members


def models(cfg: Config) -> list[TinyLMConfig]:
    """The family members trained here (``prepare`` trains them); hub members come from the hub."""
    return [member.tiny for member in family(cfg) if member.tiny is not None]


# --------------------------------------------------------------------------- measurement data

def corpus_data(tiny: TinyLMConfig, n_windows: int, eval_tokens: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(calibration windows drawn from the training split, held-out windows spread over the held-out split), [n, seq_len] each."""
    train, held_out = tiny.corpus.splits(tiny.vocab_size)
    generator = torch.Generator().manual_seed(seed + 1)  # not the training order's seed
    return (sample_windows(train, n_windows, tiny.seq_len, generator),
            spread_windows(held_out, max(1, eval_tokens // tiny.seq_len), tiny.seq_len))


def wikitext_data(tokenizer, n_windows: int, seq_len: int, eval_tokens: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(calibration windows from WikiText-2 train, WikiText-2 test windows): the paper profile's data, from the hub."""
    try:
        import datasets
    except ImportError:
        raise ImportError("the 'paper' profile reads WikiText-2 with the `datasets` package: pip install datasets") from None
    try:
        wiki = datasets.load_dataset("wikitext", "wikitext-2-raw-v1")
    except Exception as error:  # offline: datasets raises several types
        raise HubUnavailable(f"WikiText-2 could not be loaded ({type(error).__name__}); the 'paper' profile needs "
                                 "the Hugging Face Hub. Run the chapter with profile='local' instead.") from error
    ids = {split: torch.tensor(tokenizer("\n\n".join(wiki[split]["text"]))["input_ids"]) for split in ("train", "test")}
    generator = torch.Generator().manual_seed(seed + 1)
    return (sample_windows(ids["train"], n_windows, seq_len, generator),
            spread_windows(ids["test"], max(1, eval_tokens // seq_len), seq_len))


def measurement_data(member: Member, tokenizer, cfg: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """Calibration and held-out windows for ``member``: its training corpus, or WikiText-2 for hub models."""
    if member.tiny is not None:
        return corpus_data(member.tiny, cfg.calibration_windows, cfg.eval_tokens, cfg.seed)
    return wikitext_data(tokenizer, cfg.calibration_windows, cfg.seq_len, cfg.eval_tokens, cfg.seed)


# --------------------------------------------------------------------------- QiD of every checkpoint

def quant_configs(cfg: Config) -> list[QuantConfig]:
    """One QuantConfig per requested bit width (bits outside 2..8 are refused by QuantConfig)."""
    group = cfg.group_size or None
    return [QuantConfig(bits, method=cfg.method, group_size=group, sequential=cfg.sequential) for bits in cfg.bits]


def mean_and_se(values: torch.Tensor) -> tuple[float, float]:
    """Mean of per-window values and its standard error (windows as the independent units)."""
    n = len(values)
    return float(values.mean()), float(values.std(correction=1) / n ** 0.5) if n > 1 else float("nan")


@torch.no_grad()
def checkpoint_qid(model, configs: list[QuantConfig], calibration: torch.Tensor, held_out: torch.Tensor) -> pd.DataFrame:
    """One row per config: full-precision held-out loss of ``model``, QiD = loss(quantized) - loss(full), and their SEs.

    ``held_out`` holds windows [n, seq_len]; the standard errors treat windows as the units (tokens
    of one window are correlated) and QiD's is paired: the SE of the per-window loss differences.
    One-pass GPTQ configs share one full-precision Hessian pass; sequential ones calibrate their own blocks.
    """
    full = window_losses(model, held_out)
    loss_full, loss_full_se = mean_and_se(full)
    one_pass = any(c.method == "gptq" and not c.sequential for c in configs)
    hessians = collect_hessians(model, calibration) if one_pass else None
    rows = []
    for config in configs:
        quantized = quantize_model(model, config, calibration, hessians=hessians)
        qid, qid_se = mean_and_se(window_losses(quantized, held_out) - full)
        rows.append({"bits": config.bits, "loss_full": loss_full, "loss_full_se": loss_full_se, "qid": qid,
                     "qid_se": qid_se, "eval_tokens": held_out.numel()})
    return pd.DataFrame(rows)


#: The variants of quantization the chapter compares on one member: name -> changes to the QuantConfig.
VARIANTS = {"default": {}, "one-pass GPTQ": {"sequential": False}, "embeddings rounded too": {"embeddings": True}}


def variant_qid(member: Member, cfg: Config, variants: dict[str, dict] = VARIANTS, device: str = "cpu",
                progress: bool = True) -> pd.DataFrame:
    """QiD of one member's checkpoints at the fitted bit widths under each variant of the chapter's QuantConfig.

    One row per (step, bits, variant), with the input embedding's share of all parameters.
    """
    rows, data = [], None
    for step in bar(member.steps, desc=f"{member.name}: quantization variants", disable=not progress):
        model, tokenizer = member.load(step, device)
        data = data or measurement_data(member, tokenizer, cfg)  # one corpus for every checkpoint of the member
        share = model.get_input_embeddings().weight.numel() / sum(p.numel() for p in model.parameters())
        n_params = non_embedding_params(model)
        for name, changes in variants.items():
            configs = [replace(c, **changes) for c in quant_configs(cfg) if c.bits in cfg.fit_bits]
            measured = checkpoint_qid(model, configs, *data)[["bits", "qid", "qid_se"]]
            rows.append(measured.assign(member=member.name, step=step, tokens=member.tokens(step),
                                        tokens_per_param=member.tokens(step) / n_params, variant=name,
                                        embedding_share=share))
    return pd.concat(rows, ignore_index=True)


def member_table(members: list[Member], device: str = "cpu") -> pd.DataFrame:
    """One row per member at its last checkpoint: N, final tokens, tokens per parameter, training time and loss."""
    from ..models import training_record

    rows = []
    for member in members:
        model, _ = member.load(member.steps[-1], device)
        n_params = non_embedding_params(model)
        row = {"member": member.name, "schedule": member.arm, "n_params": n_params,
               "tokens": member.tokens(member.steps[-1])}
        row["tokens_per_param"] = row["tokens"] / n_params
        if member.tiny is not None:
            record = training_record(member.tiny)
            row["train_seconds"] = record["seconds"]
            row["val_loss"] = record["history"][-1]["val_loss"]
        rows.append(row)
    return pd.DataFrame(rows)


def corpus_table(corpus) -> pd.DataFrame:
    """One row per source of ``corpus`` (the English mix, or Austen alone): package, licence, words and share."""
    sources = ENGLISH_MIX_SOURCES if corpus is ENGLISH_MIX else {"austen": AUSTEN.text}
    rows = []
    for name, text in sources.items():
        res = resources.get(name)
        rows.append({"source": name, "package": f"{res.client} {res.spec}", "what": res.description,
                     "license": res.license, "words": len(text().split())})
    table = pd.DataFrame(rows)
    return table.assign(share=table["words"] / table["words"].sum())


def pythia_table() -> pd.DataFrame:
    """Pythia's sizes and tokens per non-embedding parameter after its 300 B tokens (the paper's regime)."""
    tokens = 143_000 * PYTHIA_TOKENS_PER_STEP
    return pd.DataFrame([{"model": name, "n_params": n, "tokens_per_param": tokens / n}
                         for name, n in PYTHIA_NON_EMBEDDING.items()])


def measure_family(members: list[Member], cfg: Config, device: str = "cpu", progress: bool = True):
    """A DataFrame with one row per (member, checkpoint, bits): N, D, tokens/param, losses and QiD with their SEs."""
    configs = quant_configs(cfg)
    rows, data = [], {}
    jobs = [(member, step) for member in members for step in member.steps]
    for member, step in bar(jobs, desc="quantize checkpoints", disable=not progress):
        model, tokenizer = member.load(step, device)
        key = member.tiny.corpus.name if member.tiny is not None else "wikitext"
        if key not in data:
            data[key] = measurement_data(member, tokenizer, cfg)
        measured = checkpoint_qid(model, configs, *data[key])
        n_params = non_embedding_params(model)
        rows.append(measured.assign(member=member.name, arm=member.arm, n_params=n_params, step=step,
                                    tokens=member.tokens(step), tokens_per_param=member.tokens(step) / n_params,
                                    loss_quantized=measured["loss_full"] + measured["qid"]))
    columns = ["member", "arm", "n_params", "step", "tokens", "tokens_per_param", "bits", "loss_full", "loss_full_se",
               "loss_quantized", "qid", "qid_se", "eval_tokens"]
    return pd.concat(rows, ignore_index=True)[columns]


# --------------------------------------------------------------------------- fits and tables

def fitted_range(table: pd.DataFrame, cfg: Config) -> pd.Series:
    """Whether each row's checkpoint has seen at least ``fit_min_tokens_per_param`` tokens per parameter."""
    return table["tokens_per_param"] >= cfg.fit_min_tokens_per_param


def _fit_candidates(table: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """The cosine family's rows at the bit widths in ``fit_bits`` (every checkpoint)."""
    return table[(table["arm"] == "cosine") & table["bits"].isin(list(cfg.fit_bits))]


def fit_points(table, cfg: Config):
    """The rows the laws are fitted on: the cosine family, bit widths in ``fit_bits``, D/N >= ``fit_min_tokens_per_param``."""
    candidates = _fit_candidates(table, cfg)
    return candidates[fitted_range(candidates, cfg)]


#: The unified fit of this chapter's earlier family (Austen's 1.14 M training tokens read up to 5.4 times,
#: random windows, checkpoints from step 256 to 3,000), as issue 22's review recorded it.
AUSTEN_FAMILY_FIT = {"alpha": 0.27, "beta": 1.31, "gamma": 5.10, "min_step": 256, "reads": 5.4}


def _fit_inputs(points, by_member: bool) -> tuple[tuple, dict]:
    """(N, D, P, QiD) columns of ``points`` and the bootstrap's grouping (members, then checkpoints)."""
    columns = (points["n_params"].to_numpy(), points["tokens"].to_numpy(), points["bits"].to_numpy(),
               points["qid"].to_numpy())
    grouping = ({"groups": (points["member"] + "/" + points["arm"]).to_numpy(), "subgroups": points["step"].to_numpy()}
                if by_member else {})
    return columns, grouping


def fit_unified(points, n_boot: int, seed: int = 0, by_member: bool = True) -> Fit:
    """The unified law alone, fitted on ``points`` (intervals as in :func:`fit_all`)."""
    columns, grouping = _fit_inputs(points, by_member)
    return fit_qid(*columns, n_boot=n_boot, seed=seed, **grouping)


def fit_sensitivity(table: pd.DataFrame, cfg: Config, ratios=(1.0, 2.0, 5.0), n_boot: int = 1000,
                    seed: int = 0) -> pd.DataFrame:
    """The unified law fitted from other starting points: D/N >= each of ``ratios``, and the chapter's D/N after warmup.

    One row per starting point: points, decades of D, the exponents and beta's member-level interval.
    """
    base = _fit_candidates(table, cfg)
    chosen = cfg.fit_min_tokens_per_param
    cases = [(f"D/N >= {r:g}", base[base["tokens_per_param"] >= r]) for r in ratios]
    cases.append((f"D/N >= {chosen:g}, after the {cfg.warmup_steps} warmup steps",
                  base[(base["tokens_per_param"] >= chosen) & (base["step"] > cfg.warmup_steps)]))
    rows = []
    for name, points in cases:
        if points["step"].nunique() < 3:
            continue
        fit = fit_unified(points, n_boot=n_boot, seed=seed)
        low, high = fit.intervals["beta"]
        rows.append({"fit from": name, "points": fit.n_points,
                     "decades of D": float(np.log10(points["tokens"].max() / points["tokens"].min())),
                     "alpha": fit.params["alpha"], "beta": fit.params["beta"], "beta low": low, "beta high": high,
                     "gamma": fit.params["gamma"], "R2 (log)": fit.r2_log})
    return pd.DataFrame(rows)


def fit_all(points, n_boot: int, seed: int = 0, by_member: bool = True) -> dict[str, Fit]:
    """The unified law, the three one-factor laws and the per-bit-width laws, fitted on ``points``.

    Intervals resample whole members and, within them, whole checkpoints (``by_member``), or points.
    """
    columns, grouping = _fit_inputs(points, by_member)
    fits = {"unified": fit_qid(*columns, n_boot=n_boot, seed=seed, **grouping)}
    for factor in ("beta", "alpha", "gamma"):
        try:
            fits[f"one-factor {factor}"] = fit_one_factor(*columns, factor, n_boot=n_boot, seed=seed, **grouping)
        except ValueError:  # e.g. one bit width only: gamma cannot be fitted
            pass
    for bits, fit in fit_per_bits(*columns, n_boot=n_boot, seed=seed, **grouping).items():
        fits[f"{bits}-bit only"] = fit
    return fits


def _with_interval(fit: Fit, name: str) -> str:
    """``0.52 [0.47, 0.58]`` for a fitted parameter, or an empty cell."""
    if name not in fit.params:
        return ""
    low, high = fit.intervals.get(name, (float("nan"), float("nan")))
    return f"{fit.params[name]:.3f} [{low:.3f}, {high:.3f}]"


def exponent_table(fits: dict[str, Fit]):
    """Fitted exponents with 95% bootstrap intervals beside the paper's, one row per fit."""
    rows = [{"fit": "paper, unified (Pythia)", "k": PAPER_UNIFIED["k"],
             **{f: f"{PAPER_UNIFIED[f]:.4f}" for f in ("alpha", "beta", "gamma")}, "R2 (log)": None, "points": None},
            {"fit": "paper, one-factor (Pythia)", "k": None,
             **{f: f"{PAPER_ONE_FACTOR[f]:.4f}" for f in ("alpha", "beta", "gamma")}, "R2 (log)": None, "points": None}]
    for name, fit in fits.items():
        rows.append({"fit": f"this run, {name}", "k": fit.params.get("k"),
                     **{f: _with_interval(fit, f) for f in ("alpha", "beta", "gamma")},
                     "R2 (log)": round(fit.r2_log, 3), "points": fit.n_points})
    return pd.DataFrame(rows).set_index("fit")


def predict(fit: Fit, points):
    """The unified law's QiD at each row of ``points``."""
    return qid_law(points["n_params"], points["tokens"], points["bits"], **fit.params)


def training_tokens_table(laws: dict[str, dict], sizes: dict[str, float], bits=(2, 3, 4), qid: float = 0.2):
    """Tokens at which each law reaches ``qid`` for each model size and bit width (the paper's Table 1 inversion)."""
    rows = []
    for law, params in laws.items():
        for size, n_params in sizes.items():
            row = {"law": law, "model": size}
            for b in bits:
                row[f"{b}-bit"] = float(tokens_for_qid(n_params, b, qid, **params))
            rows.append(row)
    return pd.DataFrame(rows).set_index(["law", "model"])


def log_slope(rows: pd.DataFrame) -> float:
    """Exponent of QiD in D (least squares in log-log) over the rows with QiD > 0 (NaN below three points)."""
    rows = rows[rows["qid"] > 0]
    if len(rows) < 3:
        return float("nan")
    return float(np.polyfit(np.log(rows["tokens"]), np.log(rows["qid"]), 1)[0])


def schedule_arm_summary(table: pd.DataFrame, members: list[Member], cfg: Config) -> pd.DataFrame:
    """Tokens or learning-rate decay? One row per fitted bit width comparing the schedule arm with its cosine twin.

    ``decay_step`` is the arm's first checkpoint past warmup with a reduced learning rate; ``before``
    the last checkpoint before it and ``last`` the final one. ``forecast_last`` extends the arm's
    stable-phase growth (its exponent in D) to the final tokens: what tokens alone would predict.
    """
    arm = next((m for m in members if m.arm != "cosine"), None)
    if arm is None:
        return pd.DataFrame()
    twin = next(m for m in members if m.arm == "cosine" and m.name == arm.name)
    schedule = arm.tiny.lr_schedule()
    # a constant arm never decays: every checkpoint is in its stable phase
    decay_step = min((s for s in arm.steps if schedule.factor(s - 1) < 1 and s > arm.tiny.warmup_steps),
                     default=max(arm.steps) + 1)
    both = table[table["member"] == arm.name]
    rows = []
    for bits in cfg.fit_bits:
        window = both[(both["bits"] == bits) & fitted_range(both, cfg)]
        stable = window[window["step"] < decay_step]
        if stable.empty:  # the fitted range starts at or past the decay: no stable phase to compare
            continue
        before, last = int(stable["step"].max()), int(window["step"].max())
        value = {a: window[window["arm"] == a].set_index("step")["qid"] for a in ("cosine", arm.arm)}
        beta_stable = log_slope(stable[stable["arm"] == arm.arm])
        rows.append({"bits": bits, "arm": arm.arm, "member": arm.name, "decay_step": decay_step, "before": before,
                     "last": last, "beta_cosine": log_slope(stable[stable["arm"] == "cosine"]),
                     "beta_arm_stable": beta_stable, "qid_cosine_before": value["cosine"].get(before),
                     "qid_arm_before": value[arm.arm].get(before), "qid_arm_last": value[arm.arm].get(last),
                     "forecast_last": value[arm.arm].get(before) * (last / before) ** beta_stable,
                     "qid_cosine_last": value["cosine"].get(last),
                     "lr_factor_cosine_before": twin.tiny.lr_schedule().factor(before - 1)})
    return pd.DataFrame(rows)


def bootstrap_coverage(law: dict[str, float], members: int = 5, checkpoints: int = 10, reps: int = 60,
                       n_boot: int = 150, seed: int = 0) -> pd.DataFrame:
    """How often point and member bootstrap intervals cover a simulated family's true exponents.

    One row per (bootstrap, exponent): coverage over ``reps`` families of ``members`` sizes x
    ``checkpoints`` token counts x 3 bit widths whose points share errors (:func:`clustered_family`).
    """
    rng = np.random.default_rng(seed)
    sizes, tokens = np.logspace(5, 7, members), np.logspace(7, 9, checkpoints)
    hits = {(kind, name): 0 for kind in ("points", "members") for name in ("alpha", "beta", "gamma")}
    for rep in range(reps):
        fam = clustered_family(rng, law, sizes, tokens)
        columns = (fam["n"], fam["d"], fam["p"], fam["qid"])
        for kind, grouping in (("points", {}), ("members", {"groups": fam["member"], "subgroups": fam["step"]})):
            fit = fit_qid(*columns, n_boot=n_boot, seed=rep, **grouping)
            for name in ("alpha", "beta", "gamma"):
                low, high = fit.intervals[name]
                hits[kind, name] += low <= law[name] <= high
    return pd.DataFrame([{"bootstrap": kind, "exponent": name, "coverage": count / reps, "families": reps}
                         for (kind, name), count in hits.items()])


#: the results page's rows for this chapter (support.headlines)
HEADLINES = [
    Headline("Quantization damage grows with training tokens (beta > 0)", "beta = 0.525 (Pythia)",
             "run_beta_low", ">", 0.0, "{:.2f}", "lower end of beta's 95% interval, tiny LM family"),
]
