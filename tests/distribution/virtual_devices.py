"""Runs a script on JAX with 8 virtual CPU devices, in a child process.

The device count is fixed when JAX starts, so the test process (maybe on
another backend, and with one device) cannot host it.
"""

import os
import subprocess
import sys

import keras
import pytest

jax_only = pytest.mark.skipif(
    keras.config.backend() != "jax", reason="Distribution is tested on JAX."
)


def run_on_8_devices(script):
    """Runs `script`, which must end by printing `OK`, and checks it did."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    env["KERAS_BACKEND"] = "jax"
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK"), result.stdout
