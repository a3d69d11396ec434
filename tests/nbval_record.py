"""A pytest plugin for the nbval runs of the smoke tests: it writes the executed notebook nbval saw.

nbval executes a notebook cell by cell and compares the cells marked ``# NBVAL_CHECK_OUTPUT`` with their
stored outputs, but keeps no executed copy. The smoke tests need one (to check the glued names and to seed
the smoke book build), so this plugin collects every cell's outputs and, at the end of the session, writes
the notebook with them to ``$NBVAL_RECORD_TO``. Loaded with ``-p nbval_record`` (``tests/`` on the path).
"""

from __future__ import annotations

import os

import nbformat
import pytest

RECORD_ENV = "NBVAL_RECORD_TO"
_recorded: dict[str, dict] = {}  # notebook path -> {"notebook": NotebookNode, "outputs": {cell_num: [...]}}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep the outputs nbval collected for each executed cell (passed or failed)."""
    yield
    outputs = getattr(item, "test_outputs", None)
    if call.when == "call" and outputs is not None:
        entry = _recorded.setdefault(str(item.parent.fspath), {"notebook": item.parent.nb, "outputs": {}})
        entry["outputs"][item.cell_num] = [nbformat.from_dict(dict(o)) for o in outputs]


def pytest_sessionfinish(session, exitstatus):
    """Write the executed notebook (one notebook per run of this plugin)."""
    target = os.environ.get(RECORD_ENV)
    if not target or len(_recorded) != 1:
        return
    entry = next(iter(_recorded.values()))
    notebook = nbformat.from_dict(entry["notebook"])
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code):
        cell.outputs = entry["outputs"].get(number, [])
        cell.execution_count = number + 1 if number in entry["outputs"] else None
        for output in cell.outputs:
            if output.output_type == "execute_result":
                output.execution_count = cell.execution_count
    nbformat.write(notebook, target)
