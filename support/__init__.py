"""Support package of the executable book: a shared core, one home for models, and one package per study.

Core: ``profiles`` (smoke/local/paper configs), ``resources`` (offline data and models fetched from
package registries), ``models`` (loading, training, anatomy and scoring of every model), ``chapters``
(chapter -> study module), ``prepare`` and ``book`` (the two steps of ``make book``), ``glue``
(numbers bound to the run), ``device``, ``seed``, ``plots``, ``progress``, ``results`` and ``batch``
(papermill grids). Studies: ``support/<study>/study.py`` for each chapter (``chapters.CHAPTERS``),
and ``editing``, the method library chapters 2 and 3 share.
"""

__version__ = "0.1.0"
