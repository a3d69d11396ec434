# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 10. SkipSNN: spiking networks that learn when to open their eyes
#
# **Claim of the paper** {cite}`yin2024skipsnn`. Spike trains from event cameras and other
# neuromorphic sensors often carry a short signal of interest inside long stretches of noise. An
# ordinary spiking neural network (SNN) updates every neuron at every time step and so pays for
# the noise. SkipSNN adds a controller, one spiking neuron, that learns to put the network to
# sleep during noise and to wake it when the signal comes, trading a budget penalty against
# accuracy. The paper reports better accuracy at a fraction of the compute than SNNs that skip
# at fixed intervals or at random, and than an SNN with a Skip-RNN gate {cite}`campos2018skiprnn`.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/trustml-book/trustml-book/blob/main/notebooks/10_skipsnn.ipynb)
#
# **What runs where.** `local`: Fashion-MNIST images encoded as spike trains and hidden in noise,
# a 392-128-10 network, 14 short training runs; about 6 minutes on 2 CPU cores.
# `paper`: N-MNIST (or DVS-Gesture) through `tonic`, the paper's 2x34x34-800-10 network, 300
# frames and 100 epochs: a GPU job that downloads the data sets.
#
# The authors' public code holds the model and a one-sample inference script, but no training
# loop, no baselines, and works at batch size 1; the paper's table values are not public in
# text. This chapter is therefore a complete, trainable, batched reimplementation, and its
# numbers are our own.

# %%
# Setup: install the book's `support` package when it is missing (e.g. in Colab).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("support") is None:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                           "trustml-book-support[paper] @ git+https://github.com/trustml-book/trustml-book"])

# %% tags=["parameters"]
profile = "local"  # "smoke" (seconds), "local" (minutes on a CPU), "paper" (GPU + downloads)
seed = None  # None keeps the profile's default
device = None
dataset = None
encoding = None
image_side = None
signal_len = None
seq_len = None
noise_events = None
max_rate = None
hidden = None
train_samples = None
test_samples = None
epochs = None
batch_size = None
lr = None
temperature = None
anneal_every = None
variant = None
controller_init = None
lambdas = None
results_path = None  # where the results JSON goes (batch runs set it)

# %%
import time

import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import display

from support import plots
from support import skipsnn as S
from support.device import pick_device
from support.profiles import resolve
from support.results import save_results
from support.seed import seed_everything

cfg = resolve(profile, S.PARAMS, seed=seed, device=device, dataset=dataset, encoding=encoding, image_side=image_side,
              signal_len=signal_len, seq_len=seq_len, noise_events=noise_events, max_rate=max_rate, hidden=hidden,
              train_samples=train_samples, test_samples=test_samples, epochs=epochs, batch_size=batch_size, lr=lr,
              temperature=temperature, anneal_every=anneal_every, variant=variant, controller_init=controller_init,
              lambdas=lambdas)
seed_everything(cfg.seed)
torch_device = pick_device(cfg.device)
plots.set_style()
chapter_start = time.perf_counter()
cfg.table()

# %% [markdown]
# ## The task: a short signal in a long, noisy spike train
#
# The paper's noisy N-MNIST task places a 50-frame recording of a digit at a random moment
# inside a sequence of about 300 frames of background noise, about two random events a frame.
# In `local` we build the same task from Fashion-MNIST: each image, downsampled to
# `image_side` pixels a side, becomes `signal_len` frames of two polarities (ON events where the
# garment is bright, with probability `max_rate` times the brightness; OFF events where it is
# dark inside its silhouette), and sits at a random onset in `seq_len` frames of noise built as in
# the authors' code: each frame puts `noise_events` events, alternating polarity, in a 4x4 patch
# around a random centre. The network must answer "which garment?" after the whole sequence.

# %%
data = S.load_data(cfg)
task = S.task_config(cfg)
example_x, example_onsets = S.noisy_batch(data["test_x"][:4], task, torch.Generator().manual_seed(1))
events = example_x.sum(-1)  # events per frame [4, seq_len]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), gridspec_kw={"width_ratios": [1, 3]})
if data["test_x"].ndim == 3:
    axes[0].imshow(data["test_x"][0], cmap="gray_r")
else:
    axes[0].imshow(data["test_x"][0].float().sum((0, 1)), cmap="gray_r")
axes[0].set_axis_off()
axes[0].set_title(f"test sample 0 (class {int(data['test_y'][0])})")
for i in range(len(events)):
    axes[1].plot(events[i].clamp(min=0.5).numpy(), lw=1, label=f"sample {i}")
    axes[1].axvspan(int(example_onsets[i]), int(example_onsets[i]) + cfg.signal_len, alpha=0.08, color=f"C{i}")
axes[1].set_yscale("log")
plots.labelled(axes[1], "Events per frame: the signal (shaded) in the noise", "frame", "events in the frame")
axes[1].legend(fontsize=7, ncol=2)
plt.show()
signal_share = float(cfg.signal_len / cfg.seq_len)
print(f"the signal occupies {signal_share:.0%} of the frames; an always-awake SNN spends "
      f"{1 - signal_share:.0%} of its updates on noise")

# %% [markdown]
# ## Neurons, controller and loss in a few lines
#
# Every neuron is a leaky integrate-and-fire (LIF) unit with a hard reset, as in the authors' code
# (decay 0.1, threshold 0.5): $U_t = 0.1\,U_{t-1}(1 - S_{t-1}) + W x_t$ and $S_t = [U_t > 0.5]$.
# The network is FC-LIF-FC-LIF (`2*side^2 -> hidden -> 10`), and its answer is the output spike
# count divided by the number of awake steps. The controller is one more LIF neuron that reads the
# hidden spikes (with the gradient stopped) and four tick inputs that are 1 at every 1st, 2nd,
# 10th and 100th step; if it does not fire at step $t$, the network sleeps at step $t+1$. The loss
# is $\mathrm{MSE}(\text{rate}, \text{one-hot}) + \lambda \cdot \text{awake fraction}$, trained
# through a sigmoid surrogate gradient whose temperature shrinks by 0.9 every `anneal_every`
# epochs.
#
# What "sleep" means is the one point where the authors' code and their text differ. The code
# *masks the input* of a sleeping step to zero and lets every membrane keep leaking (and receive
# its bias); the text says membrane updates are *skipped*. We implement both: `mask_input` and
# `freeze_membrane`, where a sleeping sample's membranes stay exactly as they were and nothing
# spikes. One deviation from the reference, measured rather than assumed: its controller weights
# start uniform in (0, 1), which with a 132-input controller puts the membrane so far above
# threshold that the surrogate gradient vanishes; in our runs such a controller never learned to
# sleep (100% awake at every lambda we tried). We scale those initial weights by 1/fan-in
# (`controller_init="scaled"`; `"reference"` restores theirs).

# %% [markdown]
# ## The always-awake SNN

# %%
runs = []
models = {}
always_model, row = S.run_method("always", data, cfg, cfg.variant, device=torch_device)
models["always"] = always_model
runs.append(row)
print(f"always-awake SNN: test accuracy {row['accuracy']:.3f} (chance 0.1), {row['macs']:,.0f} MACs per sample, "
      f"trained in {row['train_seconds']:.0f} s")

# %% [markdown]
# ## Learning when to wake, and the baselines at the same awake fraction
#
# For each budget penalty $\lambda$ we train SkipSNN and an SNN with a Skip-RNN gate (Campos et
# al.'s gate: an update probability $\Delta u = \sigma(w^\top U^{hid} + b)$ accumulates until it
# rounds to 1, with a straight-through gradient, and the same budget penalty). Then we train the
# same SNN with fixed-interval skipping and with random skipping at the awake fraction SkipSNN
# reached, so every comparison is at matched compute.

# %%
budgets = [float(v) for v in cfg.lambdas.split(",")]
for budget in budgets:
    model, row = S.run_method("controller", data, cfg, cfg.variant, budget=budget, device=torch_device)
    models[("controller", budget)] = model
    runs.append(row)
    fraction = max(row["awake_fraction"], 1.0 / cfg.seq_len)
    for method in ("fixed", "random"):
        runs.append(S.run_method(method, data, cfg, cfg.variant, fraction=fraction, device=torch_device)[1])
    runs.append(S.run_method("skiprnn", data, cfg, cfg.variant, budget=budget, device=torch_device)[1])
table = pd.DataFrame(runs)
display(table[["method", "lambda", "target_fraction", "accuracy", "awake_fraction", "macs", "awake_on_signal",
               "awake_on_noise", "train_seconds"]].round(3))

# %% [markdown]
# Does the controller open its eyes at the right moment? Below, each row is one test sequence
# (sorted by where its signal starts), dark cells are awake steps, and the red outline marks the
# signal.

# %%
chosen_budget = budgets[len(budgets) // 2]
controller = models[("controller", chosen_budget)]
view = S.evaluate(controller, data["test_x"][:40], data["test_y"][:40], task, seed=cfg.seed, device=torch_device)
order = torch.argsort(view["onsets"])
fig, ax = plt.subplots(figsize=(9, 4))
ax.imshow(view["awake"][order].numpy(), aspect="auto", cmap="Greys", interpolation="nearest", vmin=0, vmax=1)
ax.grid(False)
for row_index, onset in enumerate(view["onsets"][order].tolist()):
    ax.add_patch(plt.Rectangle((onset - 0.5, row_index - 0.5), cfg.signal_len, 1, fill=False, ec="red", lw=0.8))
plots.labelled(ax, f"SkipSNN awake mask (lambda={chosen_budget:g}, {cfg.variant}); red: the signal",
               "frame", "test sequence (sorted by onset)")
plt.show()
on_signal, on_noise = S.signal_coverage(view["awake"], view["onsets"], cfg.signal_len)
print(f"awake on {on_signal:.0%} of signal frames and {on_noise:.0%} of noise frames")

# %% [markdown]
# ## Accuracy against awake fraction and against compute
#
# The paper's headline picture: accuracy as a function of the fraction of steps the network is
# awake, and of the multiply-accumulates it performs. Our MAC counter is sparsity-aware: a layer
# costs (inputs x outputs) x (fraction of non-zero inputs) at each step it runs, the controller's
# own cost included.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
names = {"controller": "SkipSNN", "skiprnn": "Skip-RNN gate + SNN", "fixed": "fixed interval", "random": "random",
         "always": "always awake"}
for method, rows in table.groupby("method"):
    rows = rows.sort_values("awake_fraction")
    style = dict(marker="*" if method == "always" else "o", ms=10 if method == "always" else 5, label=names[method])
    axes[0].plot(rows["awake_fraction"], rows["accuracy"], **style)
    axes[1].plot(rows["macs"], rows["accuracy"], **style)
axes[1].set_xscale("log")
plots.labelled(axes[0], "Accuracy vs awake fraction", "fraction of steps awake", "test accuracy")
plots.labelled(axes[1], "Accuracy vs compute", "MACs per sample (sparsity-aware)", "test accuracy")
axes[0].legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Masking the input or freezing the membrane?
#
# SkipSNN once more at the middle budget, with the other meaning of sleep.

# %%
other = "freeze_membrane" if cfg.variant == "mask_input" else "mask_input"
variant_rows = [r for r in runs if r["method"] == "controller" and r["lambda"] == chosen_budget]
variant_rows.append(S.run_method("controller", data, cfg, other, budget=chosen_budget, device=torch_device)[1])
variants = pd.DataFrame(variant_rows)
display(variants[["variant", "lambda", "accuracy", "awake_fraction", "macs", "awake_on_signal", "awake_on_noise"]]
        .round(3).sort_values(["variant", "lambda"]))

# %% [markdown]
# ## The paper beside this run
#
# The paper's numbers are not published as text. One public re-plot of its DVS-Gesture figure
# (a secondary source; we could not check it against the paper's own data) reads, at 10% of steps
# awake: SkipSNN 0.81, Skip-RNN gate + SNN 0.79, fixed-interval 0.65, random 0.64, and 0.86 for
# the always-awake SNN.

# %%
paper = pd.DataFrame({"accuracy at ~10% awake (DVS-Gesture, secondary source)":
                      {"always awake": 0.86, "SkipSNN": 0.81, "Skip-RNN gate + SNN": 0.79, "fixed interval": 0.65,
                       "random": 0.64}})


def closest(method, target):
    """This run's row of ``method`` whose awake fraction is closest to ``target``."""
    rows = table[table["method"] == method]
    return rows.iloc[(rows["awake_fraction"] - target).abs().argmin()]


# Operating point: the most frugal SkipSNN run within 3 points of the always-awake accuracy,
# or, when none is, the most accurate SkipSNN run. The table above holds every run.
skip_rows = table[table["method"] == "controller"]
always_accuracy = float(table[table["method"] == "always"]["accuracy"].iloc[0])
close_enough = skip_rows[skip_rows["accuracy"] >= always_accuracy - 0.03]
operating = (close_enough.loc[close_enough["awake_fraction"].idxmin()] if len(close_enough)
             else skip_rows.loc[skip_rows["accuracy"].idxmax()])
target_fraction = float(operating["awake_fraction"])
mine = {"always awake": table[table["method"] == "always"].iloc[0]}
mine.update({names[m]: closest(m, target_fraction) for m in ("skiprnn", "fixed", "random")})
mine["SkipSNN"] = operating
paper[f"this run ({cfg.dataset}, awake fraction near {target_fraction:.2f})"] = {k: v["accuracy"] for k, v in mine.items()}
paper["this run: awake fraction"] = {k: v["awake_fraction"] for k, v in mine.items()}
paper["this run: MACs saved vs always awake"] = {k: mine["always awake"]["macs"] / v["macs"] for k, v in mine.items()}
paper.round(3)

# %% [markdown]
# **Reading** (numbers of the `local` build that produced this page; one seed, four epochs of
# 3,000 sequences per run). *Where SkipSNN works.* At $\lambda = 0.3$ the controller learned to
# be awake on 32% of the steps, on 56% of the signal frames but only 26% of the noise frames, and
# kept 0.695 accuracy against 0.721 for the always-awake SNN (2.6 points less). Fixed-interval and
# random skipping at the same awake fraction reached 0.616 and 0.631: SkipSNN is 8 and 6 points
# better, the gap the paper reports, in kind. The awake-mask figure shows how: the controller
# peeks at regular intervals and stays awake once it sees the signal.
#
# *Where it does not.* The result is not robust across the sweep. At $\lambda = 0.1$ SkipSNN
# (45% awake, 0.623) is worse than random skipping at the same fraction (0.677), and at
# $\lambda = 0.6$ (28% awake, 0.612) it is only 1-2 points better than both baselines. None of our
# runs reached the 10-20% awake range of the paper's figure: raising $\lambda$ pushed the
# controller to about 28% and no lower within four epochs. Our Skip-RNN gate baseline did not
# learn a useful policy at all (awake 44-99%, and at 44% it slept through the signal); the
# paper's 0.79 for that baseline is not reproduced, and we do not claim the baseline is tuned.
# Sleeping by *freezing* the membranes collapsed: the controller learned never to wake (1% of the
# steps, accuracy at chance), because while the network is frozen the hidden layer is silent and
# the controller only sees its ticks. With the reference's *masking*, the hidden layer keeps
# firing on its bias, which is enough for the controller to keep a peek schedule alive. On this
# evidence the reference code's choice is the one that trains.
#
# *Compute.* Being awake on 32% of the steps saved only 1.9x the multiply-accumulates, not 3x: our
# counter charges each input event, the signal's frames carry about 26 times more events than
# the noise frames (52 against 2 on average), and SkipSNN (rightly) stays awake on the signal.
# With noise as sparse as the reference's two events a frame, skipping noise saves little in a
# sparsity-aware count; the 5x MAC reduction this chapter aimed for would need either denser noise
# or skipping most of the signal. On the CPU, computing only the awake samples' layers (`infer_gathered`, see
# `benchmarks/skipsnn.py`) turned the 1.9x MAC saving into a 1.09x wall-time saving (158 ms ->
# 145 ms for 1,000 sequences): per-step overhead, not arithmetic, dominates a network this small.
#
# What differs from the paper: Fashion-MNIST images rate-coded into spikes rather than N-MNIST
# and DVS-Gesture recordings, a 14x14 input and 128 hidden neurons rather than 34x34 and 800,
# 100 frames rather than about 300, four epochs rather than a long schedule, and one seed. The
# `paper` profile runs the paper's sizes through `tonic`.

# %% [markdown]
# ## Results

# %%
always_row = table[table["method"] == "always"].iloc[0]
metrics = {"always_accuracy": always_row["accuracy"], "always_macs": always_row["macs"],
           "operating_lambda": operating["lambda"], "operating_awake_fraction": target_fraction,
           "skipsnn_accuracy": mine["SkipSNN"]["accuracy"],
           "skiprnn_accuracy": mine["Skip-RNN gate + SNN"]["accuracy"],
           "fixed_accuracy": mine["fixed interval"]["accuracy"], "random_accuracy": mine["random"]["accuracy"],
           "skipsnn_mac_reduction": always_row["macs"] / mine["SkipSNN"]["macs"],
           "skipsnn_awake_on_signal": mine["SkipSNN"]["awake_on_signal"],
           "skipsnn_awake_on_noise": mine["SkipSNN"]["awake_on_noise"],
           "chapter_seconds": time.perf_counter() - chapter_start}
metrics = {k: None if pd.isna(v) else float(v) for k, v in metrics.items()}
saved = save_results("10_skipsnn", cfg, metrics, tables={"runs": table, "variants": variants}, path=results_path)
print(f"wrote {saved}")
pd.Series(metrics)
