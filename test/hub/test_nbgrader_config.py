"""The global nbgrader config of every course image (images/notebook/nbgrader_config.py), loaded
by traitlets as nbgrader loads it, and nbgrader's own ClearSolutions run with it on an assignment
in each kernel language a course may teach."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

import jhlti_nbgrader  # images/notebook, on sys.path from conftest
from nbgrader.preprocessors import ClearSolutions
from traitlets.config import PyFileConfigLoader

GLOBAL_CONFIG = Path(jhlti_nbgrader.__file__).parent / "nbgrader_config.py"

# (kernelspec language, kernel name, solution cell, what must not be left of the solution)
ASSIGNMENTS = [
    ("python", "python3", "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION\n", "raise NotImplementedError()"),
    ("R", "ir", "add <- function(a, b) {\n  ### BEGIN SOLUTION\n  a + b\n  ### END SOLUTION\n}\n", 'stop("No Answer Given!")'),
    ("julia", "julia-1.11", "function add(a, b)\n    ### BEGIN SOLUTION\n    a + b\n    ### END SOLUTION\nend\n", 'error("No Answer Given!")'),
]


def global_config():
    return PyFileConfigLoader(GLOBAL_CONFIG.name, path=str(GLOBAL_CONFIG.parent)).load_config()


def test_it_loads_with_the_exchange_of_the_contract():
    config = global_config()
    assert config.Exchange.root == jhlti_nbgrader.contract()["paths"]["exchange_root"]
    assert config.Exchange.path_includes_course is True


@pytest.mark.parametrize(("language", "kernel", "solution", "stub"), ASSIGNMENTS, ids=[a[0] for a in ASSIGNMENTS])
def test_student_version_in_each_language(language, kernel, solution, stub):
    cell = nbformat.v4.new_code_cell(solution, metadata={"nbgrader": {
        "schema_version": 3, "solution": True, "grade": False, "locked": False, "task": False, "grade_id": "add"}})
    nb = nbformat.v4.new_notebook(cells=[cell], metadata={"kernelspec": {"name": kernel, "language": language, "display_name": kernel}})
    student, _ = ClearSolutions(config=global_config()).preprocess(nb, {})
    source = student.cells[0].source
    assert stub in source and "a + b" not in source and "BEGIN SOLUTION" not in source, source
    # The stub keeps the solution region's indentation.
    indent = solution.split("### BEGIN")[0].rsplit("\n", 1)[-1]
    assert f"{indent}# YOUR CODE HERE\n{indent}{stub}" in source, json.dumps(source)


def test_nbgraders_own_stubs_lack_julia():
    """Why the config sets them: without it a Julia assignment could not be generated."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {
        "schema_version": 3, "solution": True, "grade": False, "locked": False, "task": False, "grade_id": "x"}})],
        metadata={"kernelspec": {"name": "julia-1.11", "language": "julia", "display_name": "Julia"}})
    with pytest.raises(ValueError, match="julia"):
        ClearSolutions().preprocess(nb, {})
