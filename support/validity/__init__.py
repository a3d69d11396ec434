"""Chapter 9: construct validity of medical LLM benchmarks, measured with psychometrics (reliability, IRT, factors, criteria, content)."""
