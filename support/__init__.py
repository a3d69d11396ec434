"""Support package of the executable book: shared core plus one module per study.

Core modules: ``profiles`` (smoke/local/paper configs), ``resources`` (offline data and models
fetched from package registries), ``zoo`` (SmolLM2, tiny LMs trained here, hub loaders),
``device``, ``seed``, ``plots``, ``results`` and ``batch`` (papermill grids).
"""

__version__ = "0.1.0"
