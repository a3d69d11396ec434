"""Chapter 4: sparse-autoencoder features for safety classification (arXiv 2502.11367).

- ``activations``: residual-stream activations of any ``transformers`` causal LM at chosen blocks,
  batched, one row per real token (``TokenActivations``);
- ``features``: pooling over a text's tokens (sum, mean, max, last), top-n latent counts and
  binarization, through an SAE (``support.models.sae``) or on the raw activations;
- ``classify``: cross-validated macro-F1 of logistic-regression probes and the TF-IDF baseline;
- ``tasks``: the labelled tasks of the ``local`` profile, each from a registry resource.
"""
