import gc
import os

import pytest

# Quiet TensorFlow's start-up logging before any test imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# With TensorFlow loaded in the same process, torch's OpenMP threads spin
# against TensorFlow's on small CPUs (a small matmul went from 50 us to
# 2.5 ms on 2 cores); passive waiting removes the contention.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def pytest_addoption(parser):
    # keras-hub's convention: `large` tests run only when asked for.
    parser.addoption(
        "--run_large",
        action="store_true",
        default=False,
        help="Also run the tests marked `large` (slow variants of tests "
        "that CI covers with one short end-to-end test).",
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run_large"):
        return
    skip_large = pytest.mark.skip(reason="large: run with --run_large")
    for item in items:
        if "large" in item.keywords:
            item.add_marker(skip_large)


def pytest_collection_finish(session):
    # Keras runs `gc.collect()` whenever a layer drops a variable (13 times
    # in one `quantize()` of the tiny classifier), each a full pass over
    # the objects TensorFlow, torch and JAX made on import (1.4 s a pass on
    # torch). Freezing them once the test modules are imported keeps those
    # passes short; what the tests create is still collected.
    gc.freeze()
