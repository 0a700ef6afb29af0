"""Minimal run directories, written file by file, for the report tests."""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

MODELS = ("torch:brainalign.data.sample:SampleNet@0", "open_clip:ViT-B-32@random")
LAYERS = ("layer2", "layer4", "layer6")
ROIS = ("V1v", "FFA-1", "PPA", "RSC")
#: A caption that would run if the report did not escape it.
EVIL = "<script>window.__pwned = 1;</script>faces & <b>smiles</b>"
EVIL_KEYWORD = '<img src=x onerror="window.__pwned = 2">'
#: Planted best layer per ROI (for the first model).
BEST_LAYER = {"V1v": "layer2", "FFA-1": "layer6", "PPA": "layer4", "RSC": "layer2"}
#: Its mean r (the other layers score below 0.2; the second model 0.1 lower).
BEST_SCORE = {"V1v": 0.45, "FFA-1": 0.6, "PPA": 0.35, "RSC": 0.5}


class RunBuilder:
    """Write the parts of a run directory one at a time (constants as attributes)."""

    MODELS, LAYERS, ROIS, BEST_LAYER = MODELS, LAYERS, ROIS, BEST_LAYER
    EVIL, EVIL_KEYWORD = EVIL, EVIL_KEYWORD

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    def record(self, warnings=("Dropped 4 of 1380 voxels that are constant.",)):
        record = {
            "command": "fit",
            "date": "2025-01-02T03:04:05+00:00",
            "versions": {"brainalign": "0.1.0.dev0", "numpy": np.__version__},
            "parameters": {"dataset": "nsd", "subject": 1, "model": MODELS[0], "layer": "layer6"},
            "data": {"dataset": "nsd", "n_test": 100, "test_responses_sha256": "ab12" * 16},
            "seed": 0,
            "warnings": list(warnings),
        }
        (self.path / "run.json").write_text(json.dumps(record))
        return record

    def roi_scores(self, models=MODELS[:1], layers=LAYERS[-1:], subjects=(1,)):
        rng = np.random.default_rng(0)
        rows = []
        for subject in subjects:
            for m, model in enumerate(models):
                for layer in layers:
                    for roi in ROIS:
                        best = BEST_SCORE[roi] if layer == BEST_LAYER[roi] else 0
                        score = max(best, 0.1 + 0.05 * rng.random()) - 0.1 * m
                        rows.append(self._roi_row(subject, model, layer, roi, score))
        frame = pd.DataFrame(rows)
        frame.to_parquet(self.path / "roi_scores.parquet", index=False)
        return frame

    @staticmethod
    def _roi_row(subject, model, layer, roi, score):
        return {
            "subject": subject,
            "model": model,
            "layer": layer,
            "roi": roi,
            "mean_r": score,
            "median_r": score - 0.01,
            "mean_ncr2": 100 * score**2,
            "frac_significant": min(1.0, 2 * score),
            "n_targets": 40,
        }

    def maps(self, stats=("r",)):
        import nibabel as nib

        rng = np.random.default_rng(1)
        data = np.zeros((12, 12, 8), dtype=np.float32)
        data[2:10, 2:10, 1:7] = rng.uniform(0.05, 0.8, size=(8, 8, 6))
        affine = np.diag([2.0, 2.0, 2.0, 1.0])
        affine[:3, 3] = -12
        for stat in stats:
            path = self.path / "maps" / f"sub-01_model-SampleNet_layer-layer6_stat-{stat}.nii.gz"
            path.parent.mkdir(exist_ok=True)
            nib.Nifti1Image(data, affine).to_filename(path)

    def figure(self, name, color=(200, 30, 30)):
        from PIL import Image

        path = self.path / "figures" / name
        path.parent.mkdir(exist_ok=True)
        Image.new("RGB", (40, 20), color).save(path)
        return path

    def captions(self, caption=EVIL, keyword=EVIL_KEYWORD):
        rows = [
            ("FFA-1", "roi", caption, [keyword, "face"], 0.42, 0.05),
            ("PPA", "roi", "a house beside a garden", ["house", "garden"], 0.31, 0.04),
            ("17", "voxel", "a striped pattern", ["stripes"], 0.12, 0.02),
        ]
        frame = pd.DataFrame(
            rows, columns=["unit", "unit_kind", "caption", "keywords", "score", "shuffled_score"]
        )
        frame.insert(0, "layer", "layer6")
        frame.insert(0, "model", MODELS[0])
        frame.insert(0, "subject", 1)
        frame.insert(5, "method", "lavca")
        frame.to_parquet(self.path / "captions.parquet", index=False)
        return frame

    def top_images(self, rois=("FFA-1", "PPA"), n=3):
        from PIL import Image

        for k, roi in enumerate(rois):
            folder = self.path / "top_images" / roi
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                shade = (40 * i, 120 + 40 * k, 200 - 30 * i)
                Image.new("RGB", (64, 48), shade).save(folder / f"{i:02d}_img{i}.png")

    def decoding(self, timed=False):
        rows = []
        for roi in ("FFA-1", "PPA"):
            for metric, chance in (("top1", 0.01), ("pairwise", 0.5)):
                if timed:
                    for t in np.linspace(-0.1, 0.5, 13):
                        value = chance + (0.3 if abs(t - 0.15) < 0.06 else 0.0)
                        rows.append((roi, metric, value, chance, float(t)))
                else:
                    rows.append((roi, metric, chance + 0.2, chance, np.nan))
        frame = pd.DataFrame(rows, columns=["roi", "metric", "value", "chance", "time"])
        if not timed:
            frame = frame.drop(columns="time")
        frame.to_parquet(self.path / "decoding.parquet", index=False)
        return frame

    def rsa(self, layers=LAYERS, rois=("FFA-1", "V1v"), best=None):
        best = best or {"FFA-1": layers[-1], "V1v": layers[0]}
        rows = [
            (MODELS[0], layer, roi, 0.4 if best[roi] == layer else 0.1, 0.05, 0.6, 0.8)
            for layer in layers
            for roi in rois
        ]
        columns = ["model", "layer", "roi", "value", "value_low", "nc_lower", "nc_upper"]
        frame = pd.DataFrame(rows, columns=columns).assign(value_high=0.5, comparison="spearman")
        frame.to_parquet(self.path / "rsa.parquet", index=False)
        return frame

    def retrieved_captions(self, caption=EVIL):
        frame = pd.DataFrame(
            {
                "stimulus_id": [7, 7, 9],
                "rank": [1, 2, 1],
                "caption": [caption, "a house", "two red circles"],
                "similarity": [0.9, 0.8, 0.7],
                "own": [True, False, False],
                "true_caption": ["a face", "a face", "a blue square"],
            }
        )
        frame.to_parquet(self.path / "retrieved_captions.parquet", index=False)
        return frame

    def eeg_scores(self, channels=("O1", "Oz", "O2", "Pz", "Cz", "Fz", "XYZ1"), peak=0.17):
        times = np.round(np.arange(-0.1, 0.5, 0.01), 3)
        rows = []
        for c, channel in enumerate(channels):
            gain = 1.0 if channel.startswith("O") else 0.3
            for t in times:
                r = gain * 0.6 * np.exp(-(((t - peak) / 0.03) ** 2)) + 0.001 * c
                rows.append((1, MODELS[0], "layer6", c * len(times), "", channel, t, r))
        columns = ["subject", "model", "layer", "target", "roi", "channel", "time", "r"]
        frame = pd.DataFrame(rows, columns=columns)
        frame["target"] = np.arange(len(frame))
        frame.to_parquet(self.path / "scores.parquet", index=False)
        return frame


@pytest.fixture
def builder(tmp_path) -> RunBuilder:
    """Return an empty run directory and the functions that fill it."""
    return RunBuilder(tmp_path / "run")


@pytest.fixture
def full_run(tmp_path) -> Path:
    """Build a sweep run with every fMRI section: record, ROI table, maps, captions."""
    run = RunBuilder(tmp_path / "full")
    run.record()
    run.roi_scores(models=MODELS, layers=LAYERS)
    run.maps()
    run.figure("sub-01_model-SampleNet_layer-layer6_stat-r_slices.png")
    run.captions()
    run.top_images()
    run.decoding()
    return run.path


class Page(HTMLParser):
    """What a report page holds: element ids, sections, tables, image sources, links."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.ids, self.sections, self.srcs, self.hrefs = set(), [], [], []
        self.tables, self.alts, self.scripts = {}, [], 0
        self._table = self._row = self._cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "section":
            self.sections.append(attrs["id"])
        elif tag == "img":
            self.srcs.append(attrs.get("src", ""))
            self.alts.append(attrs.get("alt", ""))
        elif tag in ("a", "link"):
            self.hrefs.append(attrs.get("href", ""))
        elif tag == "script":
            self.scripts += 1
        elif tag == "table":
            self._table = self.tables.setdefault(attrs.get("id"), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, table_id: str) -> list[dict]:
        """Rows of a table as dicts keyed by header text."""
        header, *body = self.tables[table_id]
        return [dict(zip(header, row, strict=True)) for row in body]


@pytest.fixture
def render():
    """Write the report of a run directory and parse it: ``(html, page)``."""
    from brainalign.report import write_report

    def _render(run_dir) -> tuple[str, Page]:
        html = write_report(run_dir).read_text(encoding="utf-8")
        return html, Page(html)

    return _render


CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Start a headless Chromium that logs every console message (skip if missing)."""
    if not (_executable(CHROMIUM) and _executable(CHROMEDRIVER)):
        pytest.skip(
            f"headless browser test needs {CHROMIUM} and {CHROMEDRIVER} "
            "(Debian packages chromium and chromium-driver; .ci/run installs them)"
        )
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # An explicit driver path: selenium-manager is never asked to download anything.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
