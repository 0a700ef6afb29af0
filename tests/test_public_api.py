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
        "brainalign.alignment",
        "brainalign.synthesis",
        "brainalign.runs",
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


@pytest.mark.parametrize(
    ("module", "old", "new"),
    [
        ("brainalign.compare", "run_sweep", "run_sweep"),
        ("brainalign.compare", "collect_sweep", "collect_sweep"),
        ("brainalign.encoding", "fit_subject", "fit_subject"),
        ("brainalign.encoding", "decode_subject", "decode_subject"),
        ("brainalign.captions", "caption_run", "caption_run"),
        ("brainalign.captions", "read_run", "read_fit_run"),
    ],
)
def test_moved_pipelines_keep_their_old_paths_with_a_warning(module, old, new):
    import importlib

    import brainalign.runs

    with pytest.warns(FutureWarning, match=rf"{module}\.{old} moved to brainalign\.runs\.{new}"):
        found = getattr(importlib.import_module(module), old)
    assert found is getattr(brainalign.runs, new)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        importlib.import_module(module).nope  # noqa: B018
