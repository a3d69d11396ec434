"""Chapter 7 (So-B-IT): the study module; the audit, markers and encoders it uses live in ``support.vlm``."""
