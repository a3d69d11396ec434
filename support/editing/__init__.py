"""Sequential knowledge editing: MEMIT, ENCORE (MPES + norm penalty), AlphaEdit, fine-tuning and LoRA.

Chapters 2 (norm growth, Gupta et al., arXiv 2502.19416) and 3 (ENCORE, Gupta et al., arXiv
2502.01636). One file per method (``memit``, ``alphaedit``, ``finetune``), the shared steps in
``compute`` (keys, value targets with MPES, C0), model access in ``anatomy``, edit cases in
``cases``, scores in ``metrics``, norm/activation diagnostics in ``diagnostics``, the sequential
loop in ``sequential`` and the chapters' experiment recipes in ``study``.
"""

from .alphaedit import alphaedit_delta, null_space_projector
from .anatomy import Anatomy, anatomy
from .cases import EditCase, wikidata_candidates, world_cases
from .compute import (
           ZConfig,
           compute_keys,
           compute_z,
           context_prefixes,
           mpes_should_stop,
           second_moment,
)
from .memit import memit_delta
from .sequential import (
           EditorState,
           Method,
           encore_methods,
           restore,
           run_sequential,
           snapshot,
)

__all__ = ["Anatomy", "EditCase", "EditorState", "Method", "ZConfig", "alphaedit_delta", "anatomy", "compute_keys",
           "compute_z", "context_prefixes", "encore_methods", "memit_delta", "mpes_should_stop", "null_space_projector",
           "restore", "run_sequential", "second_moment", "snapshot", "wikidata_candidates", "world_cases"]
