"""Every HTML page a pipeline writes, opened in headless Chromium: no error, no request out.

The pages are those of a real (small) fit and decode of the NSD sample through the
command line, with their reports: the reports and the interactive surface views the
fit writes in ``figures/``. The whole demo's pages are opened by the slow test.
"""

import json

import pytest

MODEL = "torch:brainalign.data.sample:SampleNet@0"
#: URL schemes a self-contained page may load from.
LOCAL = ("file:", "data:", "blob:", "about:")


@pytest.fixture(scope="module")
def pipeline_pages(nsd_sample, tmp_path_factory):
    """Fit and decode two ROIs of subject 1, write both reports; return every page."""
    from brainalign.cli import main

    out = tmp_path_factory.mktemp("pages")
    data = ["--dataset", "nsd", "--root", str(nsd_sample), "--subject", "1", "--model", MODEL]
    data += ["--layer", "layer6"]
    fit = ["fit", *data, "--roi", "floc-faces,floc-places", "--permutations", "20"]
    decode = ["decode", *data, "--rois", "FFA-1,PPA", "--out", str(out / "decode"), "-q"]
    with pytest.warns(UserWarning, match="Dropped 4 of 1380 voxels"):  # the sample's
        assert main([*fit, "--out", str(out / "fit"), "-q"]) == 0
        assert main(decode) == 0
    for run in ("fit", "decode"):
        assert main(["report", str(out / run), "-q"]) == 0
    return sorted(out.rglob("*.html"))


def requested_urls(driver) -> list[str]:
    """Return the URLs the browser requested since the last call (performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def problems_of(browser, page) -> list[str]:
    """Open a page; return its console errors and its requests out.

    Warnings are not counted: headless Chromium warns about its software WebGL
    (SwiftShader, ReadPixels stalls) on every 3-D page, whatever the page does.
    """
    requested_urls(browser)  # drop what earlier pages logged
    browser.get_log("browser")
    browser.get(page.resolve().as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    problems = [
        f"console error: {e['message']}"
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE"
    ]
    outside = [url for url in requested_urls(browser) if not url.startswith(LOCAL)]
    return problems + [f"request: {url}" for url in outside]


def test_every_page_of_a_fit_and_decode_is_clean_offline(browser, pipeline_pages):
    names = {page.name for page in pipeline_pages}
    assert "report.html" in names
    surface_pages = [p for p in pipeline_pages if p.name.endswith("_surface.html")]
    assert len(surface_pages) == 2  # one interactive view per hemisphere
    for page in pipeline_pages:
        assert problems_of(browser, page) == [], page.name


def test_surface_view_draws_on_its_canvas(browser, pipeline_pages):
    import io

    import numpy as np
    from PIL import Image

    page = next(
        p for p in pipeline_pages if p.name.endswith("_hemi-L_space-fsnative_stat-r_surface.html")
    )
    browser.get(page.resolve().as_uri())
    title = browser.find_element("id", "page-title").text
    assert title == "Held-out r, SampleNet layer6, subject 1, fsnative space, left hemisphere"
    canvas = browser.find_element("id", "gl")
    pixels = np.asarray(Image.open(io.BytesIO(canvas.screenshot_as_png)).convert("RGB"), float)
    # the hemisphere is drawn: many pixels neither white nor black, in several colours
    drawn = (pixels.std(axis=2) > 20) | ((pixels.mean(axis=2) > 30) & (pixels.mean(axis=2) < 225))
    assert drawn.mean() > 0.05


@pytest.mark.slow
def test_every_page_of_the_demo_is_clean_offline(browser, tmp_path):
    from brainalign.cli import main

    with pytest.warns(UserWarning, match="Dropped 4 of 1380 voxels"):  # the sample's
        assert main(["demo", "--out", str(tmp_path / "demo"), "-q"]) == 0
    pages = sorted((tmp_path / "demo").rglob("*.html"))
    assert len([p for p in pages if p.name == "report.html"]) == 3
    for page in pages:
        assert problems_of(browser, page) == [], page.name
