"""Chapter 8: Bend-VLM."""
