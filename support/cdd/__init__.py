"""Chapter 1: Constrained Discrete Diffusion (Cardei et al., 2025, arXiv 2503.09790).

``diffusion`` (MDLM's SUBS reverse process and sampler), ``projection`` (the augmented-Lagrangian
KL projection and its cvxpy reference), ``constraints`` (surrogates and exact checks, novelty
search), ``metrics`` (the real scorers), ``study`` (the chapter's settings and experiments).
The tiny MDLMs are trained by :mod:`support.models` (``TinyMDLMConfig``); the molecule corpus (SMILES or SELFIES) is :mod:`.molecules`.
"""
