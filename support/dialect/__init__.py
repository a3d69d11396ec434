"""Chapter 6: dialect bias in LLM reasoning, Standard American vs African American English (arXiv 2503.04099).

``rules``: the deterministic rule-based SAE -> AAE converter (the paper's thirteen rules and its
post-pass); ``validation``: each rule scored on Multi-VALUE's pairs; ``llm_convert``: the paper's
conversion by a chat model (persona + features prompt, then the post-pass); ``control``: the
dialect-neutral synonym-swap paraphrase the dialect gap is compared with; ``explain``: sampled
answers with explanations; ``measures``: answer entropy, explanation length, readability;
``study``: what the notebook calls; ``figures``: its figures.
"""
