"""Fixtures of the EEG tests: the THINGS-EEG2 sample, built once per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def eeg_sample(tmp_path_factory) -> Path:
    """Build the default THINGS-EEG2 sample (seed 0) once per session."""
    from brainalign.data.sample import write_things_eeg2_sample

    return write_things_eeg2_sample(tmp_path_factory.getbasetemp() / "things-eeg2", seed=0)


@pytest.fixture(scope="session")
def eeg_truth(eeg_sample) -> dict:
    """Read the sample's ground_truth.json."""
    return json.loads((eeg_sample / "ground_truth.json").read_text())
