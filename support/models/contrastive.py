"""Image-text models: a tiny CLIP trained from scratch, hub CLIPs, and one embedding path for both.

The model is ``transformers``' own ``CLIPModel`` (Radford et al. 2021): a ViT image tower and a
causal text transformer pooled at the end-of-text token, each projected to a shared space, trained
with the symmetric InfoNCE loss over a batch, L = (CE(S, I) + CE(S^T, I)) / 2 with
S = exp(t) * normalize(images) @ normalize(texts)^T and a learned temperature t (CLIP eqs. in its
Figure 3 pseudocode; ``CLIPModel(return_loss=True)`` computes it). The tiny one differs from CLIP in
size only (28x28 images in 7x7 patches, a few layers of width 64) and in its tokenizer: whole
words from a fixed vocabulary instead of byte-pair merges, since its captions come from templates.

Both it and the hub CLIPs of the ``paper`` profile (ViT-B/16, ViT-L/14) are saved and loaded in
hub format: model, tokenizer and image processor from one folder or hub id
(:func:`load_image_text`), and embedded by the same two functions (:func:`text_embeddings`,
:func:`image_embeddings`), so the audit code cannot tell which it is given.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .cached import CachedModel, require_positive_ints
from .hub import offline_first, quiet_transformers
from .training import Schedule, train_loop

PAD, UNK, EOS = "[PAD]", "[UNK]", "[EOS]"


@dataclass(frozen=True)
class ContrastiveConfig:
    """Shape and training recipe of the tiny CLIP (both towers share width, depth and heads)."""

    image_size: int = 28
    patch_size: int = 7
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    d_ff: int = 256
    projection_dim: int = 64
    max_text_len: int = 16
    steps: int = 3000
    batch_size: int = 256
    lr: float = 2e-3
    warmup_steps: int = 100
    weight_decay: float = 0.1
    seed: int = 0

    def __post_init__(self):
        require_positive_ints(self, ("image_size", "patch_size", "d_model", "n_layers", "n_heads", "d_ff",
                                     "projection_dim", "max_text_len", "steps", "batch_size"))
        if self.d_model % self.n_heads or self.image_size % self.patch_size:
            raise ValueError("d_model must be divisible by n_heads and image_size by patch_size "
                             f"(got {self.d_model}/{self.n_heads}, {self.image_size}/{self.patch_size})")
        Schedule(self.steps, self.lr, self.warmup_steps)  # validates lr and warmup


def word_tokenizer(vocabulary: list[str], max_len: int):
    """A ``PreTrainedTokenizerFast`` that lower-cases, splits on whitespace, maps whole words and appends [EOS]."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    # [EOS] takes the last id: transformers' CLIP pools text at the highest id when eos_token_id == 2 (its
    # legacy rule), at the first [EOS] otherwise; with [EOS] last both rules pick the same position
    vocab = {token: i for i, token in enumerate([PAD, UNK, *sorted(set(vocabulary)), EOS])}
    core = Tokenizer(WordLevel(vocab, unk_token=UNK))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.post_processor = processors.TemplateProcessing(single=f"$A {EOS}", special_tokens=[(EOS, vocab[EOS])])
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, unk_token=UNK, eos_token=EOS,
                                   model_max_length=max_len)


def padded_tokens(tokenizer, texts: list[str], length: int) -> dict[str, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` [n, length], padded on the right, tokenized once; raises when a text
    is longer (truncation would cut the [EOS] the text tower pools at)."""
    tokens = tokenizer(texts, padding="longest", return_tensors="pt")
    longest = tokens["input_ids"].shape[1]
    if longest > length:
        raise ValueError(f"a caption has {longest} tokens with [EOS]; raise max_text_len={length}")
    extra = length - longest
    return {"input_ids": torch.nn.functional.pad(tokens["input_ids"], (0, extra), value=tokenizer.pad_token_id),
            "attention_mask": torch.nn.functional.pad(tokens["attention_mask"], (0, extra), value=0)}


def tiny_clip(cfg: ContrastiveConfig, tokenizer):
    """An untrained ``CLIPModel`` of ``cfg``'s shape for ``tokenizer``'s vocabulary."""
    from transformers import CLIPConfig, CLIPModel

    shared = {"hidden_size": cfg.d_model, "intermediate_size": cfg.d_ff, "num_hidden_layers": cfg.n_layers,
              "num_attention_heads": cfg.n_heads, "projection_dim": cfg.projection_dim}
    text = {**shared, "vocab_size": len(tokenizer), "max_position_embeddings": cfg.max_text_len,
            "pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id,
            "bos_token_id": tokenizer.eos_token_id}
    vision = {**shared, "image_size": cfg.image_size, "patch_size": cfg.patch_size, "num_channels": 3}
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=cfg.projection_dim)
    return CLIPModel(config)


def tiny_image_processor(size: int):
    """The tiny CLIP's image processor: no resize or crop, pixels scaled to [-1, 1]."""
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor(do_resize=False, do_center_crop=False, do_rescale=True, rescale_factor=1 / 255,
                              do_normalize=True, image_mean=[0.5] * 3, image_std=[0.5] * 3,
                              size={"shortest_edge": size}, crop_size={"height": size, "width": size})


def pixel_values(images: np.ndarray) -> torch.Tensor:
    """float [n, 3, H, W] in [-1, 1] of uint8 [n, H, W, 3] images (what :func:`tiny_image_processor` gives)."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def _features(output) -> torch.Tensor:
    """The projected features of ``get_*_features`` (a tensor in transformers 4, an output object in 5)."""
    return output if torch.is_tensor(output) else output.pooler_output


@torch.no_grad()
def text_embeddings(model, tokenizer, texts: list[str], batch_size: int = 256) -> torch.Tensor:
    """[n, d] unit-norm text embeddings of an image-text model."""
    device, out = next(model.parameters()).device, []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(texts[start:start + batch_size], padding=True, truncation=True, return_tensors="pt")
        out.append(_features(model.get_text_features(**batch.to(device))).float().cpu())
    return torch.nn.functional.normalize(torch.cat(out), dim=-1)


@torch.no_grad()
def image_embeddings(model, processor, images, batch_size: int = 256) -> torch.Tensor:
    """[n, d] unit-norm image embeddings; ``images`` is uint8 [n, H, W, 3] or a list of PIL images."""
    device, out = next(model.parameters()).device, []
    for start in range(0, len(images), batch_size):
        chunk = list(images[start:start + batch_size])
        pixels = processor(images=chunk, return_tensors="pt")["pixel_values"].to(device, model.dtype)
        out.append(_features(model.get_image_features(pixel_values=pixels)).float().cpu())
    return torch.nn.functional.normalize(torch.cat(out), dim=-1)


def load_image_text(name_or_path: str | os.PathLike, device: str = "cpu", dtype: torch.dtype = torch.float32):
    """``(model, tokenizer, image processor)`` of a CLIP-style model from a local folder or a hub id."""
    quiet_transformers()
    return offline_first(name_or_path, lambda name, **kwargs: _load_image_text(name, device, dtype, **kwargs),
                         f"image-text model {str(name_or_path)!r}")


def _pil_backend() -> dict:
    """The keyword that asks for the PIL image processor: ``backend`` from transformers 5 (``use_fast`` warns)."""
    import transformers

    return {"backend": "pil"} if int(transformers.__version__.split(".")[0]) >= 5 else {"use_fast": False}


def _load_image_text(name_or_path, device: str, dtype: torch.dtype, **kwargs):
    """Model, tokenizer and image processor (the PIL one: no torchvision needed) of one folder or id."""
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(name_or_path, dtype=dtype, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
    processor = AutoImageProcessor.from_pretrained(name_or_path, **_pil_backend(), **kwargs)
    return model.to(device).eval(), tokenizer, processor


@dataclass(frozen=True)
class TrainedImageText(CachedModel):
    """A tiny CLIP trained on a caption set (one pass, each example once) and saved in hub format.

    ``data`` needs ``describe()``, ``n_examples``, ``vocabulary()``, ``captions(rows)`` and
    ``images(rows)`` (uint8 [n, H, W, 3]), as :class:`support.vlm.planted.PlantedCaptions` has.
    """

    data: object
    config: ContrastiveConfig = ContrastiveConfig()
    kind = "clip"
    version = 2  # 2: [EOS] takes the last token id

    def __post_init__(self):
        if self.data.n_examples < self.config.steps * self.config.batch_size:
            raise ValueError(f"the caption set has {self.data.n_examples} examples; {self.config.steps} steps of "
                             f"{self.config.batch_size} need {self.config.steps * self.config.batch_size}")

    def key(self) -> dict:
        """The data's description, the config and the trainer version."""
        return {"data": self.data.describe(), "config": asdict(self.config), "trainer": self.version}

    def label(self) -> str:
        """E.g. ``tiny CLIP d64 x2 layers, 3000 steps``."""
        c = self.config
        return f"tiny CLIP d{c.d_model} x{c.n_layers} layers, {c.steps} steps"

    def produce(self, folder: Path, device: str, progress: bool) -> dict:
        """Train with InfoNCE over the examples in order, then save model, tokenizer and processor."""
        cfg = self.config
        torch.manual_seed(cfg.seed)
        tokenizer = word_tokenizer(self.data.vocabulary(), cfg.max_text_len)
        model = tiny_clip(cfg, tokenizer)
        order = torch.arange(cfg.steps * cfg.batch_size).view(cfg.steps, cfg.batch_size)
        tokens = padded_tokens(tokenizer, self.data.captions(order.view(-1).numpy()), cfg.max_text_len)
        unknown = int((tokens["input_ids"] == tokenizer.unk_token_id).sum())
        if unknown:
            raise ValueError(f"{unknown} caption tokens are not in the vocabulary the data declared")
        step = iter(range(cfg.steps))

        def sample(generator: torch.Generator) -> torch.Tensor:
            return order[next(step)]

        def loss(model, rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
            index, device = rows.cpu(), rows.device  # the caption tensors stay on the CPU
            pixels = pixel_values(self.data.images(index.numpy())).to(device)
            return model(input_ids=tokens["input_ids"][index].to(device),
                         attention_mask=tokens["attention_mask"][index].to(device),
                         pixel_values=pixels, return_loss=True).loss

        history = train_loop(model, sample, loss, Schedule(cfg.steps, cfg.lr, cfg.warmup_steps), data_seed=cfg.seed,
                             weight_decay=cfg.weight_decay, betas=(0.9, 0.98), log_every=max(1, cfg.steps // 100),
                             desc="tiny CLIP", progress=progress, device=device)
        model.cpu().save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        tiny_image_processor(cfg.image_size).save_pretrained(folder)
        return {"history": history, "parameters": sum(p.numel() for p in model.parameters()),
                "temperature": float(model.logit_scale.detach().exp())}

    def load_from(self, folder: Path, device: str):
        """``(model, tokenizer, image processor)``."""
        return load_image_text(folder, device)
