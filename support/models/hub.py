"""One loading path for every pretrained model: a local folder in hub format or a Hugging Face Hub id.

Study code receives standard ``transformers`` models and tokenizers from here, so it runs unchanged
on a tiny model trained by this book (a local folder) and on a hub model such as Llama-3-8B (the
``paper`` profile). Offline and uncached, a hub id fails early with a message pointing at ``local``.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import torch


class HubUnavailable(RuntimeError):
    """A hub model or data set was asked for on a machine that cannot reach the hub."""


def quiet_transformers() -> None:
    """Silence transformers' per-load progress bars; the book shows its own."""
    from transformers.utils import logging

    logging.disable_progress_bar()


def load_pretrained(name_or_path: str | os.PathLike, revision: str | None = None, device: str = "cpu",
                    dtype: torch.dtype = torch.float32, **kwargs):
    """``(model, tokenizer)`` of a causal LM from a local folder or a hub id, in eval mode on ``device``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()
    tokenizer = AutoTokenizer.from_pretrained(name_or_path, revision=revision, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(name_or_path, revision=revision, dtype=dtype, **kwargs)
    return model.to(device).eval(), tokenizer


def load_masked_lm(name_or_path: str | os.PathLike, device: str = "cpu", dtype: torch.dtype = torch.float32,
                   **kwargs):
    """``(model, tokenizer)`` of a bidirectional masked LM (a diffusion denoiser) saved in hub format."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    quiet_transformers()
    tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
    model = AutoModelForMaskedLM.from_pretrained(name_or_path, dtype=dtype, **kwargs)
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


def require_hub(what: str) -> None:
    """Raise :class:`HubUnavailable` naming ``what`` when the hub cannot be reached."""
    if not hub_reachable():
        raise HubUnavailable(
            f"{what} needs the Hugging Face Hub, which this machine cannot reach. The 'paper' profile needs the "
            "hub (Colab or a GPU machine with network); run this chapter with profile='local' to use the real "
            "small models shipped in registry packages.")


def offline_first(name_or_path: str | os.PathLike, load, what: str):
    """``load(name_or_path)`` for a local folder; for a hub id, ``load(..., local_files_only=True)`` from the
    local Hugging Face cache first, else from the hub, failing early (naming ``what``) when it cannot be reached."""
    if Path(name_or_path).is_dir():
        return load(name_or_path)
    try:
        return load(name_or_path, local_files_only=True)
    except OSError:
        pass
    require_hub(f"{what} (not in the local Hugging Face cache)")
    return load(name_or_path)


def hub(model_id: str, revision: str | None = None, device: str = "cpu", dtype: torch.dtype = torch.float32):
    """``(model, tokenizer)`` of a hub causal LM (``paper`` profile), or of a local folder in hub format.

    A local folder's revisions are its ``step<N>`` subfolders, as the hub's are branches.
    """
    if Path(model_id).is_dir():
        folder = Path(model_id) / revision if revision and (Path(model_id) / revision).is_dir() else Path(model_id)
        return load_pretrained(folder, None, device, dtype)
    return offline_first(model_id, lambda name, **kwargs: load_pretrained(name, revision, device, dtype, **kwargs),
                         f"model {model_id!r}{f' at revision {revision!r}' if revision else ''}")
