"""Chapter 6 (in progress): dialect bias in LLM reasoning, Standard American vs African American English.

The study is arXiv 2503.04099. ``rules``: the deterministic rule-based SAE -> AAE converter (the
paper's thirteen rules and its post-pass); ``validation``: each rule scored on Multi-VALUE's pairs;
``measures``: answer entropy over repeated runs, explanation length; ``control``: the
dialect-neutral synonym-swap paraphrase the dialect gap is compared with; ``llm_convert``: the
paper's conversion by a chat model (persona + features prompt, then the post-pass).
"""
