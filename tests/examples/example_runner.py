"""Runs the scripts of `examples/` (not a package) inside the tests."""

import contextlib
import importlib.util
import io
import pathlib

EXAMPLES_DIR = pathlib.Path(__file__).resolve().parents[2] / "examples"


def load_example(name):
    """Imports `examples/<name>.py` as a module."""
    spec = importlib.util.spec_from_file_location(
        name, EXAMPLES_DIR / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_main(module, argv):
    """Runs `module.main(argv)`; returns `(result, printed text)`."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        result = module.main(argv)
    return result, output.getvalue()
