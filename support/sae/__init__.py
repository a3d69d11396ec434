"""Chapter 4: sparse-autoencoder features for safety classification (arXiv 2502.11367).

- ``support.models.activations`` (shared, in the core): residual-stream activations of any
  ``transformers`` causal LM at chosen blocks, batched, one row per real token;
- ``features``: pooling over a text's tokens (sum, mean, max, last), top-n latent counts and
  binarization, through an SAE (``support.models.sae``) or on the raw activations;
- ``classify``: cross-validated macro-F1 of logistic-regression probes and the TF-IDF baseline;
- ``tasks``: the labelled tasks of the ``local`` profile, each from a registry resource;
- ``gemma_scope``: Gemma Scope's published SAEs as this book's SAEs (``paper``);
- ``study``: the chapter's parameters, SAEs, grid, headline, transfer and top features;
- ``figures``: the chapter's figures.
"""
