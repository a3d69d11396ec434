"""Chapter 10: SkipSNN, spiking networks that learn to skip noise (Yin et al., IEEE BigData 2024, arXiv 2411.05806).

The chapter's parameters and runs: build the noisy task (:mod:`.task`), train the always-awake SNN
once per seed, fine-tune each gating method from it at every awake target (:mod:`.network`,
one population per method) and score them on one fixed test draw, one tidy row per
method x setting x target x seed.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from ..headlines import Headline
from ..profiles import Param
from ..stats import mean_interval as interval
from .network import (
    CONTROLLER_INITS,
    LEARNED_GATES,
    PENALTIES,
    READOUTS,
    VARIANTS,
    NetSpec,
    SpikingPopulation,
    evaluate_population,
    infer_gathered,
    test_sequences,
    train_population,
)
from .task import TaskConfig, downsample, neuromorphic_frames

PARAMS = {
    "dataset": Param(str, smoke="fashion-mnist", local="fashion-mnist", paper="nmnist",
                     choices=("fashion-mnist", "nmnist", "dvsgesture"),
                     help="images encoded as spikes here, or neuromorphic recordings through tonic (paper)"),
    "encoding": Param(str, smoke="rate", local="rate", paper="rate", choices=("rate", "latency"),
                      help="how images become spike trains (ignored for neuromorphic data)"),
    "image_side": Param(int, smoke=7, local=10, paper=34, low=4, high=34, help="frames are 2 x side x side"),
    "signal_len": Param(int, smoke=6, local=15, paper=50, low=1, help="frames of the signal"),
    "seq_len": Param(int, smoke=60, local=240, paper=300, low=2, help="frames of the whole noisy sequence"),
    "noise_events": Param(int, smoke=12, local=24, paper=24, low=0,
                          help="noise draws per frame in the main setting (denser than the reference's)"),
    "reference_noise_events": Param(int, smoke=2, local=2, paper=2, low=0,
                                    help="noise draws per frame in the second setting (the reference's)"),
    "noise_patch": Param(int, smoke=4, local=6, paper=6, low=1, help="side of the square a frame's noise lands in"),
    "max_rate": Param(float, smoke=0.5, local=0.5, paper=0.5, low=0.0, high=1.0,
                      help="spike probability of a white pixel per frame (rate coding)"),
    "hidden": Param(int, smoke=16, local=32, paper=800, low=1),
    "train_samples": Param(int, smoke=256, local=1600, paper=60000, low=1),
    "test_samples": Param(int, smoke=200, local=1000, paper=10000, low=1),
    "pretrain_epochs": Param(int, smoke=1, local=12, paper=30, low=1, help="epochs of the always-awake SNN"),
    "finetune_epochs": Param(int, smoke=1, local=3, paper=20, low=1, help="epochs of each gated fine-tuning"),
    "batch_size": Param(int, smoke=32, local=100, paper=128, low=1),
    "lr": Param(float, smoke=5e-3, local=1e-2, paper=1e-3, low=1e-6, high=1.0),
    "temperature": Param(float, smoke=1.0, local=1.0, paper=1.0, low=1e-3, help="surrogate sigmoid temperature"),
    "anneal_every": Param(int, smoke=1, local=1, paper=10, low=1, help="epochs between temperature x0.9 steps"),
    "variant": Param(str, smoke="mask_input", local="mask_input", paper="mask_input", choices=VARIANTS),
    "controller_init": Param(str, smoke="ticks", local="ticks", paper="ticks", choices=CONTROLLER_INITS,
                             help="controller weights uniform(0, 1/fan_in) ('scaled'), uniform(0, 1) as the reference, "
                                  "or a periodic peek that fits the target ('ticks', see peek_periods)"),
    "seeds": Param(int, smoke=2, local=3, paper=3, low=1, help="independent runs (pretraining included) per point"),
    "awake_targets": Param(float, many=True, smoke=(0.2, 0.5), local=(0.1, 0.15, 0.2, 0.3, 0.5),
                           paper=(0.1, 0.15, 0.2, 0.3, 0.5), low=0.01, high=1.0,
                           help="awake fractions of the sweep: fixed/random skipping's rate, the learned gates' target"),
    "penalty": Param(str, smoke="hinge", local="hinge", paper="hinge", choices=PENALTIES,
                     help="learned gates' budget term: max(0, awake - target), the reference's awake fraction, "
                          "or a multiplier raised by dual ascent ('dual', penalty_weight is its step)"),
    "readout": Param(str, smoke="ce_count", local="ce_count", paper="ce_count", choices=READOUTS,
                     help="the class loss: cross-entropy of the output spike counts ('ce_count') or of the rate "
                         "times the sequence length ('ce_rate'), or the reference's MSE of the rate"),
    "penalty_weight": Param(float, smoke=100.0, local=100.0, paper=100.0, low=0.0, help="weight of the budget term"),
    "gate_lr_scale": Param(float, smoke=1.0, local=1.0, paper=1.0, low=0.0,
                           help="learning rate of the gates (controller, Skip-RNN gate) relative to lr"),
    "tick_periods": Param(int, many=True, smoke=(1, 2, 10, 100), local=(1, 2, 10, 100), paper=(1, 2, 10, 100),
                          low=1, help="the controller's tick inputs (the reference's periods)"),
    "alt_tick_periods": Param(int, many=True, smoke=(1, 2, 6, 100), local=(1, 2, 10, 20, 100),
                              paper=(1, 2, 10, 20, 100), low=1,
                              help="a second tick set for SkipSNN, to see whether another period helps"),
    "alt_targets": Param(float, many=True, smoke=(0.2,), local=(0.1,), paper=(0.1, 0.15), low=0.01, high=1.0,
                         help="awake targets SkipSNN is also run at with the second tick set"),
    "reference_targets": Param(float, many=True, smoke=(0.2,), local=(0.15, 0.3), paper=(0.1, 0.15, 0.2, 0.3, 0.5),
                               low=0.01, high=1.0, help="awake targets of the sweep with the reference's noise"),
    "operating_target": Param(float, smoke=0.2, local=0.15, paper=0.10, low=0.01, high=1.0,
                              help="the awake target the headline comparison is read at"),
}
RESOURCES = ("fashion-mnist",)

METHODS = ("controller", "skiprnn", "fixed", "random")
METHOD_NAMES = {"controller": "SkipSNN", "controller_alt_ticks": "SkipSNN, second tick set",
                "skiprnn": "Skip-RNN gate + SNN", "fixed": "fixed interval", "random": "random",
                "always": "always awake"}
#: A public re-plot of the paper's DVS-Gesture figure (secondary source), accuracy at ~10% of steps awake.
PAPER_DVS_ACCURACY = {"always awake": 0.86, "SkipSNN": 0.81, "Skip-RNN gate + SNN": 0.79, "fixed interval": 0.65,
                      "random": 0.64}
PAPER_AWAKE_FRACTION = 0.10


def models(cfg) -> list:
    """No cached models: the chapter's networks are its experiment and train in the notebook."""
    return []


def task_config(cfg, noise_events: int | None = None) -> TaskConfig:
    """The noisy task a chapter config describes (``noise_events`` overrides the main setting's)."""
    return TaskConfig(side=cfg.image_side, signal_len=cfg.signal_len, seq_len=cfg.seq_len,
                      noise_events=cfg.noise_events if noise_events is None else noise_events,
                      noise_patch=cfg.noise_patch, encoding=cfg.encoding, max_rate=cfg.max_rate)


def settings(cfg) -> dict[str, int]:
    """The two noise settings of the chapter: {name: noise draws per frame}."""
    return {"dense noise": cfg.noise_events, "reference noise": cfg.reference_noise_events}


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


def net_spec(cfg, data: dict, tick_periods: tuple[int, ...] | None = None) -> NetSpec:
    """Layer sizes of the chapter's network for ``data``."""
    return NetSpec(n_in=2 * cfg.image_side**2, n_hidden=cfg.hidden, n_out=int(data["train_y"].max()) + 1,
                   tick_periods=tuple(tick_periods or cfg.tick_periods))


def pretrain(data: dict, cfg, task: TaskConfig, device: str = "cpu", progress: bool = True
             ) -> tuple[SpikingPopulation, float]:
    """The always-awake SNN, one per seed, trained from scratch; (population, seconds)."""
    return _pretrain_streams(data, cfg, [task] * cfg.seeds, f"always awake x{cfg.seeds} seeds, "
                             f"{task.noise_events} noise draws/frame", device, progress)


def _pretrain_streams(data: dict, cfg, tasks: list[TaskConfig], desc: str, device: str, progress: bool
                      ) -> tuple[SpikingPopulation, float]:
    """Always-awake SNNs trained from scratch, one stream per task; (population, seconds)."""
    pop = SpikingPopulation(net_spec(cfg, data), len(tasks), 1, "always", cfg.variant, temperature=cfg.temperature,
                            seed=cfg.seed)
    began = time.perf_counter()
    train_population(pop, data["train_x"], data["train_y"], tasks, cfg.pretrain_epochs, cfg.batch_size, cfg.lr,
                     readout=cfg.readout, anneal_every=cfg.anneal_every, seed=cfg.seed, device=device, progress=progress,
                     desc=desc)
    return pop, time.perf_counter() - began


def pretrain_settings(data: dict, cfg, settings: dict[str, int], device: str = "cpu", progress: bool = True
                      ) -> tuple[dict[str, SpikingPopulation], float]:
    """The always-awake SNNs of several noise settings trained side by side, one per seed and setting.

    One population of seeds x settings streams (stream k reads setting k // seeds), which costs far
    less than a run per setting because the per-step work is mostly fixed overhead at this size.
    Returns ({setting: population of its seeds}, seconds per setting).
    """
    tasks = [task_config(cfg, noise) for noise in settings.values() for _ in range(cfg.seeds)]
    pop, seconds = _pretrain_streams(data, cfg, tasks, f"always awake x{cfg.seeds} seeds x{len(settings)} noise "
                                     "settings", device, progress)
    return {name: pop.streams_subset(k * cfg.seeds, cfg.seeds) for k, name in enumerate(settings)}, \
        seconds / len(settings)


def peek_periods(signal_frames: int, seq_len: int, targets: tuple[float, ...], tick_periods: tuple[int, ...]
                 ) -> list[int]:
    """Per awake target, the tick period a controller starts peeking at: the shortest whose ideal peek fits the target.

    Of the tick periods whose ideal peek (:func:`peek_awake`) is awake on at most the target, the
    shortest reads the most signal within it (the longest period when none fits). Started there,
    the controller is under its budget and only has to learn when to stay awake.
    """
    ideal = {p: peek_awake(signal_frames, seq_len, p) for p in tick_periods}
    chosen = []
    for target in targets:
        fitting = [p for p in tick_periods if ideal[p] <= target + 1e-9]
        chosen.append(min(fitting) if fitting else max(tick_periods))
    return chosen


def finetune(base: SpikingPopulation, gate: str, data: dict, cfg, task: TaskConfig,
             tick_periods: tuple[int, ...] | None = None, device: str = "cpu", progress: bool = True,
             targets: tuple[float, ...] | None = None) -> tuple[SpikingPopulation, float]:
    """One population of ``gate`` (seeds x awake targets) started from the always-awake SNN; (population, seconds).

    ``gate='always'`` fine-tunes one always-awake SNN per seed for the same epochs, so that the
    baseline has had as much training as the gated networks. ``targets`` defaults to the config's
    awake targets.
    """
    targets = tuple(cfg.awake_targets if targets is None else targets)
    per_stream = 1 if gate == "always" else len(targets)
    member_targets = None if gate == "always" else torch.tensor(targets, dtype=torch.float32).repeat(cfg.seeds)
    spec = net_spec(cfg, data, tick_periods)
    peeks = None
    if gate == "controller" and cfg.controller_init == "ticks":
        peeks = peek_periods(cfg.signal_len, cfg.seq_len, targets, spec.tick_periods) * cfg.seeds
    pop = SpikingPopulation(spec, cfg.seeds, per_stream, gate, cfg.variant, targets=member_targets,
                            temperature=base.temperature, controller_init=cfg.controller_init, seed=cfg.seed + 1,
                            peek_periods=peeks)
    pop.load_network(base.cpu())
    began = time.perf_counter()
    train_population(pop, data["train_x"], data["train_y"], task, cfg.finetune_epochs, cfg.batch_size, cfg.lr,
                     penalty_weight=cfg.penalty_weight if gate in LEARNED_GATES else 0.0, penalty=cfg.penalty,
                     readout=cfg.readout, gate_lr_scale=cfg.gate_lr_scale, anneal_every=cfg.anneal_every,
                     seed=cfg.seed + 1, device=device, progress=progress,
                     desc=f"{METHOD_NAMES[gate]} x{pop.members}, {task.noise_events} noise draws/frame")
    return pop, time.perf_counter() - began


def sweep(data: dict, cfg, setting: str, noise_events: int, methods: tuple[str, ...] = METHODS,
          alt_ticks: bool = False, device: str = "cpu", progress: bool = True,
          targets: tuple[float, ...] | None = None, base: SpikingPopulation | None = None,
          pretrain_seconds: float = 0.0
          ) -> tuple[pd.DataFrame, dict[str, SpikingPopulation], dict[str, torch.Tensor]]:
    """Pretrain (unless ``base`` is given, with its ``pretrain_seconds``), fine-tune every method (always-awake
    included) at every target, score all on one test draw.

    ``targets`` defaults to the config's awake targets; with ``alt_ticks`` SkipSNN also runs with the
    second tick set at ``cfg.alt_targets``.

    Returns (one row per method x target x seed, the trained populations by method, and the awake
    masks [P, N, T] by method, with the test onsets under key 'onsets').
    """
    task = task_config(cfg, noise_events)
    x, onsets = test_sequences(data["test_x"], task, seed=cfg.seed)
    if base is None:
        base, pretrain_seconds = pretrain(data, cfg, task, device, progress)
    populations, masks, frames, timings = {}, {"onsets": onsets}, [], {}
    targets = tuple(cfg.awake_targets if targets is None else targets)
    runs = [(m, m, None, targets) for m in ("always",) + tuple(methods)]
    if alt_ticks:
        runs.append(("controller_alt_ticks", "controller", cfg.alt_tick_periods, tuple(cfg.alt_targets)))
    for method, gate, ticks, method_targets in runs:
        pop, seconds = finetune(base, gate, data, cfg, task, ticks, device, progress, method_targets)
        timings[method] = seconds + pretrain_seconds * pop.members / base.members
        rows, masks[method] = evaluate_population(pop, x, onsets, data["test_y"], cfg.signal_len, device=device,
                                                  seed=cfg.seed)
        rows["seed"] = cfg.seed + rows["stream"]
        frames.append(rows.assign(method=method, setting=setting, noise_events=noise_events,
                                  train_seconds=timings[method] / pop.members,
                                  target=rows.target if method != "always" else 1.0))
        populations[method] = pop
    columns = ["setting", "noise_events", "method", "target", "seed", "accuracy", "awake_fraction", "signal_recall",
               "noise_wake", "macs_sparse", "macs_dense", "train_seconds", "member"]
    return pd.concat(frames, ignore_index=True)[columns], populations, masks


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% t-interval over seeds per setting x method x target, with MAC savings against always-awake."""
    keys = ["setting", "method", "target"]
    metrics = ["accuracy", "awake_fraction", "signal_recall", "noise_wake", "macs_sparse", "macs_dense"]
    grouped = runs.groupby(keys)
    table = grouped[metrics].mean()
    table["accuracy_ci"] = grouped.accuracy.apply(interval)
    table["seeds"] = grouped.size()
    table = table.reset_index()
    always = table[table.method == "always"].set_index("setting")
    for kind in ("sparse", "dense"):
        table[f"saving_{kind}"] = table.setting.map(always[f"macs_{kind}"]) / table[f"macs_{kind}"]
    return table


def at_target(summary: pd.DataFrame, setting: str, target: float) -> pd.DataFrame:
    """Every method's summary row at one awake target of one setting, with the always-awake SNN; by method."""
    rows = summary[(summary.setting == setting) & ((summary.target - target).abs() < 1e-6)
                   | (summary.setting == setting) & (summary.method == "always")]
    return rows.set_index("method")


def paired_gaps(runs: pd.DataFrame, setting: str, target: float, method: str = "controller",
                baselines: tuple[str, ...] = ("fixed", "random", "always")) -> pd.DataFrame:
    """Accuracy of ``method`` minus each baseline's, paired by seed (same pretrained SNN), mean and 95% interval."""
    here = runs[runs.setting == setting]
    mine = here[(here.method == method) & ((here.target - target).abs() < 1e-6)].set_index("seed").accuracy
    rows = []
    for other in baselines:
        theirs = here[here.method == other]
        if other != "always":
            theirs = theirs[(theirs.target - target).abs() < 1e-6]
        gap = (mine - theirs.set_index("seed").accuracy).dropna()
        rows.append({"baseline": other, "gap": gap.mean(), "gap_ci": interval(gap), "seeds": len(gap)})
    return pd.DataFrame(rows).set_index("baseline")


def matched_gaps(runs: pd.DataFrame, setting: str, target: float, method: str = "controller",
                 baselines: tuple[str, ...] = ("fixed", "random"), on: str = "awake_fraction") -> pd.DataFrame:
    """``method``'s accuracy minus each baseline's at the *same measured* awake fraction (or MACs), paired by seed.

    A learned gate need not land on its target; the baseline's accuracy is read off its own
    accuracy-vs-``on`` curve (linear interpolation between its targets, same seed, ending at the
    always-awake SNN, which is what fixed or random skipping at fraction one is) at the value of
    ``on`` (``awake_fraction``, ``macs_sparse`` or ``macs_dense``) that ``method`` actually had.
    ``inside`` counts the seeds whose value lies within that curve (beyond its ends the curve is
    held at its end values).
    """
    here = runs[runs.setting == setting]
    mine = here[(here.method == method) & ((here.target - target).abs() < 1e-6)].set_index("seed")
    rows = []
    for other in baselines:
        gaps, inside = [], 0
        for seed, row in mine.iterrows():
            curve = here[(here.method.isin([other, "always"])) & (here.seed == seed)].sort_values(on)
            if not (curve.method == other).any():
                continue
            values = curve[on].to_numpy()
            inside += int(values[0] <= row[on] <= values[-1])
            gaps.append(row.accuracy - float(np.interp(row[on], values, curve.accuracy.to_numpy())))
        gap = pd.Series(gaps, dtype=float)
        rows.append({"baseline": other, "gap": gap.mean(), "gap_ci": interval(gap), "seeds": len(gap),
                     "inside": inside})
    return pd.DataFrame(rows).set_index("baseline")


def paper_comparison(summary: pd.DataFrame, setting: str) -> pd.DataFrame:
    """The paper's accuracy at ~10% awake beside this run's at the 10% target (or the nearest one), per method."""
    targets = summary[summary.method != "always"].target.unique()
    nearest = float(targets[np.abs(targets - PAPER_AWAKE_FRACTION).argmin()])
    rows = at_target(summary, setting, nearest)
    return pd.DataFrame([{"method": METHOD_NAMES[m], "paper_accuracy": PAPER_DVS_ACCURACY[METHOD_NAMES[m]],
                          "target": nearest if m != "always" else 1.0, "accuracy": rows.loc[m, "accuracy"],
                          "accuracy_ci": rows.loc[m, "accuracy_ci"], "awake_fraction": rows.loc[m, "awake_fraction"]}
                         for m in ("always", "controller", "skiprnn", "fixed", "random")])


def peek_recall(signal_frames: int, period: float) -> float:
    """Expected signal recall of a gate that peeks every ``period`` frames and stays awake once a peek sees signal.

    A gate that reads nothing while asleep cannot know when the signal starts; with a uniformly random
    onset, the first peek inside a window of S frames lands ``offset`` frames in, offset uniform over
    the period (when period <= S), so recall = 1 - (period - 1) / (2 S); with a longer period the
    window is hit with probability S / period and recall = (S + 1) / (2 period).
    """
    s = signal_frames
    if period <= s:
        return 1 - (period - 1) / (2 * s)
    return (s + 1) / (2 * period)


def peek_bound(signal_frames: int, seq_len: int, budget: float, iterations: int = 200) -> dict:
    """The most signal recall a periodic peek reaches at an awake ``budget``: recall and noise wake rate that fit it.

    Awake fraction = f * recall + (1 - f) / period with f = signal_frames / seq_len; solved for the
    period by bisection (recall falls as the period grows, so the awake fraction is monotone in it).
    """
    if budget <= 0 or budget >= 1:
        raise ValueError(f"budget={budget} must lie in (0, 1)")
    low, high = 1.0, float(seq_len)
    for _ in range(iterations):
        period = (low + high) / 2
        low, high = (period, high) if peek_awake(signal_frames, seq_len, period) > budget else (low, period)
    period = (low + high) / 2
    return {"period": period, "recall": peek_recall(signal_frames, period), "noise_wake": 1 / period,
            "awake": peek_awake(signal_frames, seq_len, period)}


def peek_awake(signal_frames: int, seq_len: int, period: float) -> float:
    """Awake fraction of an ideal peek every ``period`` frames that stays awake through the signal once it sees it.

    f * peek_recall(S, period) + (1 - f) / period, with f = S / seq_len.
    """
    f = signal_frames / seq_len
    return f * peek_recall(signal_frames, period) + (1 - f) / period


def gathered_wall_time(model: SpikingPopulation, baseline: SpikingPopulation, x: torch.Tensor, repeats: int = 3
                       ) -> dict:
    """Best-of-N seconds to classify x [N, T, n_in] computing only awake samples (one SkipSNN) vs always awake."""

    def best(network: SpikingPopulation) -> float:
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            infer_gathered(network, x)
            times.append(time.perf_counter() - began)
        return min(times)

    return {"skipsnn_seconds": best(model), "always_seconds": best(baseline)}


def check_config(cfg) -> None:
    """Refuse an operating target missing from either noise setting's sweep, and second-tick targets outside the main sweep."""
    for name in ("awake_targets", "reference_targets"):
        if not any(abs(cfg.operating_target - t) < 1e-9 for t in cfg[name]):
            raise ValueError(f"operating_target={cfg.operating_target} must be one of {name}={cfg[name]}")
    for t in cfg.alt_targets:
        if not any(abs(t - u) < 1e-9 for u in cfg.awake_targets):
            raise ValueError(f"alt_targets={cfg.alt_targets} must be among awake_targets={cfg.awake_targets} "
                             "(the tick comparison sets the two tick sets side by side)")


def operating_members(populations: dict, cfg) -> tuple[SpikingPopulation, SpikingPopulation]:
    """Seed 0's SkipSNN at the operating target and seed 0's always-awake SNN, as populations of one."""
    check_config(cfg)
    index = [round(t, 9) for t in cfg.awake_targets].index(round(cfg.operating_target, 9))
    return populations["controller"].member(index).cpu(), populations["always"].member(0).cpu()


#: the results page's rows for this chapter (support.headlines)
HEADLINES = [
    Headline("SkipSNN stays within 3 points of the always-awake SNN (the book's target)",
             "0.81 vs 0.86: 5 points below (DVS gesture)", "gap_always", ">=", -3.0, "{:.1f}",
             "accuracy points at the operating awake target, Fashion-MNIST spike trains in noise"),
    Headline("SkipSNN beats fixed and random skipping at equal awake time", "0.81 vs 0.65 / 0.64",
             ("matched_fixed", "matched_random"), ">=", 8.0, "{:.1f}", "smaller of the two leads, accuracy points"),
]
