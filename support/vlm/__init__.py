"""Chapters 7-8: auditing (and, for Bend-VLM, debiasing) image-text retrieval.

``audit``: a retrieved set's group make-up against the gallery's prior (normalized entropy,
MaxSkew, KL) and its p-values against random draws or control queries; ``taxonomy``: So-B-IT's
words as data; ``planted``: Fashion-MNIST with planted group markers (a CLIP stand-in with known
biases); ``cooccurrence``: weighted log-odds of words against groups in captions; ``people``: a
text gallery of FairFace's race x gender groups; ``debias``: Orth-Proj, Orth-Cal and Bend-VLM's two
steps (chapter 8).
"""
