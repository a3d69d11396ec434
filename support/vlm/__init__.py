"""Chapters 7-8 (in progress): auditing and debiasing image-text retrieval (So-B-IT, arXiv 2411.00997; Bend-VLM).

``audit``: the measures of a retrieved set's group make-up against the gallery's prior (normalized
entropy, MaxSkew, KL) and permutation p-values for them.
"""
