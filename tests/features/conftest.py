import numpy as np
import pytest


@pytest.fixture(scope="session")
def images():
    """Twenty small random RGB images."""
    return np.random.default_rng(0).integers(0, 256, (20, 40, 40, 3), dtype=np.uint8)
