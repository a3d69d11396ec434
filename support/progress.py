"""The book's progress bar: tqdm.auto (widgets in Jupyter, text elsewhere) without the no-widgets warning."""

import warnings

from tqdm import TqdmExperimentalWarning, TqdmWarning

with warnings.catch_warnings():
    # Without ipywidgets tqdm.auto falls back to text bars and warns once; text bars are fine here.
    warnings.simplefilter("ignore", category=TqdmWarning)
    warnings.simplefilter("ignore", category=TqdmExperimentalWarning)
    from tqdm.auto import tqdm

__all__ = ["tqdm"]
