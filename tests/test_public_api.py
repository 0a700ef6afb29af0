import importlib
import subprocess
import sys

import pytest

import brainalign


@pytest.mark.parametrize(
    "module",
    [
        "brainalign",
        "brainalign.data",
        "brainalign._utils",
        "brainalign.data.sample",
        "brainalign.exceptions",
        "brainalign.compare",
        "brainalign.report",
    ],
)
def test_all_is_sorted_and_complete(module):
    mod = importlib.import_module(module)
    names = [n for n in mod.__all__ if n != "__version__"]
    assert names == sorted(names)
    assert all(isinstance(n, str) and hasattr(mod, n) for n in mod.__all__)


def test_import_is_light():
    # Heavy libraries load inside the functions that need them.
    code = (
        "import sys, brainalign; "
        "print(sorted(m for m in ('torch', 'h5py', 'mne', 'matplotlib', 'open_clip',"
        " 'transformers', 'nibabel', 'dask', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_version():
    assert brainalign.__version__.startswith("0.")
