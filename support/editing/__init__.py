"""Sequential knowledge editing, the method library of chapters 2 and 3: MEMIT, ENCORE, AlphaEdit, ROME, fine-tuning.

Chapters 2 (norm growth, Gupta et al., arXiv 2502.19416; ``support.norm_growth``) and 3 (ENCORE,
Gupta et al., arXiv 2502.01636; ``support.encore``) study the same editors, so the editors live
here, shared like ``support.models``, and each chapter's study module holds its own experiments.
One file per method (``memit``, ``alphaedit``, ``rome``, ``finetune``), the shared steps in ``compute``
(keys, value targets with MPES, C0), edit cases in ``cases``, the synthetic fact world and its
model in ``world``, scores in ``metrics``, norm and activation diagnostics in ``diagnostics``, the
sequential loop in ``sequential`` and the settings both chapters build in ``settings``.
"""

from .alphaedit import alphaedit_delta, null_space_projector
from .cases import EditCase, capital_questions, geo_candidates, world_cases
from .compute import ZConfig, compute_keys, compute_z, context_prefixes, mpes_should_stop, second_moment
from .memit import memit_delta
from .rome import rome_delta
from .sequential import Editor, Method, encore_methods, restore, run_sequential, snapshot

__all__ = ["EditCase", "Editor", "Method", "ZConfig", "alphaedit_delta", "capital_questions", "compute_keys",
           "compute_z", "context_prefixes", "encore_methods", "geo_candidates", "memit_delta", "mpes_should_stop",
           "null_space_projector", "restore", "rome_delta", "run_sequential", "second_moment", "snapshot",
           "world_cases"]
