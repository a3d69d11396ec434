"""Chapter 10: SkipSNN, spiking networks that learn to skip noise (Yin et al., IEEE BigData 2024, arXiv 2411.05806).

The chapter's parameters and runs: build the noisy task (:mod:`.task`), train one gating method
of the network (:mod:`.network`) and score it on a fixed test draw, one tidy row per run.
"""

from __future__ import annotations

import time

import pandas as pd
import torch

from ..profiles import Param
from .network import VARIANTS, SkipSNN, evaluate, train
from .task import TaskConfig, downsample, neuromorphic_frames, signal_coverage

PARAMS = {
    "dataset": Param(str, smoke="fashion-mnist", local="fashion-mnist", paper="nmnist",
                     choices=("fashion-mnist", "nmnist", "dvsgesture"),
                     help="images encoded as spikes here, or neuromorphic recordings through tonic (paper)"),
    "encoding": Param(str, smoke="rate", local="rate", paper="rate", choices=("rate", "latency"),
                      help="how images become spike trains (ignored for neuromorphic data)"),
    "image_side": Param(int, smoke=7, local=14, paper=34, low=4, high=34, help="frames are 2 x side x side"),
    "signal_len": Param(int, smoke=8, local=20, paper=50, low=1, help="frames of the signal"),
    "seq_len": Param(int, smoke=32, local=100, paper=300, low=2, help="frames of the whole noisy sequence"),
    "noise_events": Param(int, smoke=2, local=2, paper=2, low=0, help="noise events per frame (both polarities)"),
    "max_rate": Param(float, smoke=0.5, local=0.5, paper=0.5, low=0.0, high=1.0,
                      help="spike probability of a white pixel per frame (rate coding)"),
    "hidden": Param(int, smoke=32, local=128, paper=800, low=1),
    "train_samples": Param(int, smoke=256, local=3000, paper=60000, low=1),
    "test_samples": Param(int, smoke=128, local=1000, paper=10000, low=1),
    "epochs": Param(int, smoke=1, local=4, paper=100, low=1),
    "batch_size": Param(int, smoke=64, local=64, paper=128, low=1),
    "lr": Param(float, smoke=5e-3, local=5e-3, paper=1e-3, low=1e-6, high=1.0),
    "temperature": Param(float, smoke=1.0, local=1.0, paper=1.0, low=1e-3, help="surrogate sigmoid temperature"),
    "anneal_every": Param(int, smoke=1, local=1, paper=10, low=1, help="epochs between temperature x0.9 steps"),
    "variant": Param(str, smoke="mask_input", local="mask_input", paper="mask_input", choices=VARIANTS),
    "controller_init": Param(str, smoke="scaled", local="scaled", paper="scaled", choices=("scaled", "reference"),
                             help="controller weights uniform(0, 1/fan_in) ('scaled') or uniform(0, 1) as the reference"),
    "lambdas": Param(float, many=True, smoke=(0.3,), local=(0.1, 0.3, 0.6), paper=(0.05, 0.1, 0.3, 0.6), low=0.0,
                     help="budget penalties of the sweep (SkipSNN and Skip-RNN+SNN)"),
}
RESOURCES = ("fashion-mnist",)


def models(cfg) -> list:
    """No cached models: the chapter's networks are its experiment and train in the notebook."""
    return []


def task_config(cfg) -> TaskConfig:
    """The noisy task a chapter config describes."""
    return TaskConfig(side=cfg.image_side, signal_len=cfg.signal_len, seq_len=cfg.seq_len,
                      noise_events=cfg.noise_events, encoding=cfg.encoding, max_rate=cfg.max_rate)


def load_data(cfg) -> dict[str, torch.Tensor]:
    """Train/test signals (images [n, side, side] or event frames) and labels for the chapter's dataset."""
    if cfg.dataset == "fashion-mnist":
        from .. import resources

        data = {}
        for split, limit in (("train", cfg.train_samples), ("test", cfg.test_samples)):
            images, labels = resources.fashion_mnist(split)
            data[f"{split}_x"] = downsample(images[:limit], cfg.image_side)
            data[f"{split}_y"] = torch.as_tensor(labels[:limit]).long()
        return data
    from ..cache import cache_dir

    data = {}
    for split, limit in (("train", cfg.train_samples), ("test", cfg.test_samples)):
        frames, labels = neuromorphic_frames(cfg.dataset, split, cfg.signal_len, cfg.image_side, limit,
                                             str(cache_dir() / "tonic"))
        data[f"{split}_x"], data[f"{split}_y"] = frames, labels
    return data


def run_method(method: str, data: dict, cfg, variant: str, budget: float = 0.0, fraction: float = 1.0,
               device: str = "cpu", progress: bool = True) -> tuple[SkipSNN, dict]:
    """Train one method ('always', 'controller', 'skiprnn', 'fixed', 'random') and return (model, test metrics row)."""
    task = task_config(cfg)
    n_classes = int(data["train_y"].max()) + 1
    torch.manual_seed(cfg.seed)
    model = SkipSNN(2 * cfg.image_side**2, cfg.hidden, n_classes, gate=method, variant=variant,
                    temperature=cfg.temperature, awake_fraction=fraction, controller_init=cfg.controller_init)
    start = time.perf_counter()
    learned_budget = budget if method in ("controller", "skiprnn") else 0.0
    history = train(model, data["train_x"], data["train_y"], task, cfg.epochs, cfg.batch_size, cfg.lr,
                    budget=learned_budget, anneal_every=cfg.anneal_every, seed=cfg.seed, device=device,
                    progress=progress, desc=f"{method} {variant} lambda={budget:g} f={fraction:.2f}")
    seconds = time.perf_counter() - start
    result = evaluate(model, data["test_x"], data["test_y"], task, seed=cfg.seed, device=device)
    signal_awake, noise_awake = signal_coverage(result["awake"], result["onsets"], cfg.signal_len)
    row = {"method": method, "variant": variant, "lambda": learned_budget, "target_fraction": fraction,
           "accuracy": result["accuracy"], "awake_fraction": result["awake_fraction"], "macs": result["macs"],
           **{f"macs_{k}": v for k, v in result["macs_by_layer"].items()},
           "awake_on_signal": signal_awake, "awake_on_noise": noise_awake, "train_seconds": seconds,
           "final_loss": history[-1]["loss"]}
    return model, row


METHOD_NAMES = {"controller": "SkipSNN", "skiprnn": "Skip-RNN gate + SNN", "fixed": "fixed interval",
                "random": "random", "always": "always awake"}
#: A public re-plot of the paper's DVS-Gesture figure (secondary source), accuracy at ~10% of steps awake.
PAPER_DVS_ACCURACY = {"always awake": 0.86, "SkipSNN": 0.81, "Skip-RNN gate + SNN": 0.79, "fixed interval": 0.65,
                      "random": 0.64}
PAPER_AWAKE_FRACTION = 0.10


def sweep(data: dict, cfg, device: str = "cpu", progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """The always-awake SNN, then per budget SkipSNN, fixed and random skipping at its awake fraction, and Skip-RNN.

    Returns (one row per trained run; ``budget`` names the SkipSNN budget a run belongs to, NaN for
    the always-awake SNN), and the trained models {"always": model, ("controller", budget): model}.
    """
    trained, rows = {}, []
    trained["always"], row = run_method("always", data, cfg, cfg.variant, device=device, progress=progress)
    rows.append({**row, "budget": float("nan")})
    for budget in cfg.lambdas:
        model, row = run_method("controller", data, cfg, cfg.variant, budget=budget, device=device, progress=progress)
        trained[("controller", budget)] = model
        rows.append({**row, "budget": budget})
        fraction = max(row["awake_fraction"], 1.0 / cfg.seq_len)
        for method in ("fixed", "random"):
            rows.append({**run_method(method, data, cfg, cfg.variant, fraction=fraction, device=device,
                                      progress=progress)[1], "budget": budget})
        rows.append({**run_method("skiprnn", data, cfg, cfg.variant, budget=budget, device=device,
                                  progress=progress)[1], "budget": budget})
    return pd.DataFrame(rows), trained


def budget_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """Per budget: SkipSNN's accuracy and awake fraction beside the baselines trained at its awake fraction."""
    rows = []
    for budget, runs in table.dropna(subset=["budget"]).groupby("budget"):
        accuracy = runs.set_index("method").accuracy
        skip = runs[runs.method == "controller"].iloc[0]
        skiprnn = runs[runs.method == "skiprnn"].iloc[0]
        rows.append({"lambda": budget, "awake_fraction": skip.awake_fraction, "skipsnn": skip.accuracy,
                     "fixed": accuracy["fixed"], "random": accuracy["random"], "skiprnn": skiprnn.accuracy,
                     "skiprnn_awake": skiprnn.awake_fraction,
                     "gap_vs_best_baseline": skip.accuracy - max(accuracy["fixed"], accuracy["random"])})
    return pd.DataFrame(rows)


def operating_point(table: pd.DataFrame, tolerance: float = 0.03) -> pd.Series:
    """The most frugal SkipSNN run within ``tolerance`` of the always-awake accuracy, else the most accurate one."""
    skip = table[table.method == "controller"]
    always = float(table[table.method == "always"].accuracy.iloc[0])
    close = skip[skip.accuracy >= always - tolerance]
    return close.loc[close.awake_fraction.idxmin()] if len(close) else skip.loc[skip.accuracy.idxmax()]


def closest_run(table: pd.DataFrame, method: str, fraction: float) -> pd.Series:
    """The run of ``method`` whose awake fraction is closest to ``fraction``."""
    rows = table[table.method == method]
    return rows.iloc[(rows.awake_fraction - fraction).abs().argmin()]


def paper_comparison(table: pd.DataFrame, operating: pd.Series) -> pd.DataFrame:
    """The paper's accuracy at ~10% awake beside this run's at the operating point, one row per method."""
    always = table[table.method == "always"].iloc[0]
    runs = {"always awake": always, "SkipSNN": operating}
    runs.update({METHOD_NAMES[m]: closest_run(table, m, operating.awake_fraction) for m in ("skiprnn", "fixed",
                                                                                            "random")})
    return pd.DataFrame([{"method": name, "paper_accuracy": PAPER_DVS_ACCURACY[name], "accuracy": run.accuracy,
                          "awake_fraction": run.awake_fraction, "mac_saving": always.macs / run.macs}
                         for name, run in runs.items()])


def gathered_wall_time(model: SkipSNN, images: torch.Tensor, task: TaskConfig, baseline: SkipSNN,
                       repeats: int = 3, seed: int = 0) -> dict:
    """Seconds to classify ``images`` computing only awake samples (SkipSNN) vs every step (always awake); best of N."""
    from .network import infer_gathered
    from .task import noisy_batch

    x, _ = noisy_batch(images, task, torch.Generator().manual_seed(20_000 + seed))

    def best(fn) -> float:
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            fn(x)
            times.append(time.perf_counter() - began)
        return min(times)

    with torch.no_grad():
        return {"skipsnn_seconds": best(lambda v: infer_gathered(model, v)),
                "always_seconds": best(lambda v: infer_gathered(baseline, v))}
