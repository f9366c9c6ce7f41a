"""Shared test fixtures: tiny hand-made pytrees and hypothesis settings."""

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax.numpy as jnp
from hypothesis import HealthCheck, settings

settings.register_profile(
    "jaxreg", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("jaxreg")


def tiny_params():
    """A tuple plus a nested dict with one leaf that the tests mask out."""
    return (
        jnp.array([1.0, -2.0, 0.0]),
        {"layer": {"w": jnp.array([[0.5, -0.01], [3.0, 0.0]]), "b": jnp.array([0.2, -0.3])}},
    )


TINY_MASK = (True, {"layer": {"w": True, "b": False}})
