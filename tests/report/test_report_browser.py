"""The report in a real browser: Debian's headless Chromium driven by selenium."""

import io

import numpy as np


def _open(browser, path):
    browser.get(path.resolve().as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    return browser.get_log("browser")


def _severe(log):
    return [entry["message"] for entry in log if entry["level"] == "SEVERE"]


def test_fmri_report_in_the_browser(browser, full_run):
    from brainalign.report import write_report

    log = _open(browser, write_report(full_run))
    assert _severe(log) == []
    for section in ("provenance", "warnings", "roi-table", "sweep", "maps", "captions"):
        assert browser.find_element("id", section).is_displayed()
    for element in ("top-images", "decoding", "roi-scores", "sweep-profiles", "sweep-heatmap"):
        assert browser.find_element("id", element).is_displayed()
    # Every embedded image decodes (a broken data URI has naturalWidth 0).
    widths = browser.execute_script(
        "return Array.from(document.images).map(function (i) { return i.naturalWidth; })"
    )
    assert len(widths) >= 10 and min(widths) > 0


def test_injected_caption_is_text_not_code(browser, full_run):
    from selenium.webdriver.common.by import By

    from brainalign.report import write_report

    _open(browser, write_report(full_run))
    assert browser.execute_script("return window.__pwned === undefined")
    assert len(browser.find_elements(By.TAG_NAME, "script")) == 1
    cells = browser.find_elements(By.CSS_SELECTOR, "#roi-captions tbody td")
    texts = [cell.text for cell in cells]
    assert "<script>window.__pwned = 1;</script>faces & <b>smiles</b>" in texts
    assert any('<img src=x onerror="window.__pwned = 2">' in text for text in texts)


def _column(browser, table_id, header_text):
    from selenium.webdriver.common.by import By

    headers = browser.find_elements(By.CSS_SELECTOR, f"#{table_id} thead th")
    index = [h.text.strip() for h in headers].index(header_text)
    cells = browser.find_elements(
        By.CSS_SELECTOR, f"#{table_id} tbody tr td:nth-child({index + 1})"
    )
    return headers[index], [float(c.get_attribute("data-sort")) for c in cells]


def test_clicking_a_header_sorts_the_table(browser, full_run):
    from brainalign.report import write_report

    _open(browser, write_report(full_run))
    header, before = _column(browser, "roi-scores", "mean r")
    assert before != sorted(before)  # file order is not already sorted
    header.click()
    _, ascending = _column(browser, "roi-scores", "mean r")
    assert ascending == sorted(before) and header.get_attribute("aria-sort") == "ascending"
    header.click()
    _, descending = _column(browser, "roi-scores", "mean r")
    assert descending == sorted(before, reverse=True)
    assert _severe(browser.get_log("browser")) == []


def test_eeg_report_in_the_browser_and_its_screenshot(browser, builder):
    from PIL import Image

    from brainalign.report import write_report

    builder.record()
    builder.eeg_scores()
    builder.decoding(timed=True)
    log = _open(browser, write_report(builder.path))
    assert _severe(log) == []
    for element in ("eeg", "eeg-curves", "eeg-topomaps", "eeg-peaks", "decoding-time"):
        assert browser.find_element("id", element).is_displayed()
    pixels = np.asarray(Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("L"))
    assert pixels.shape[0] > 500 and pixels.shape[1] > 500
    assert pixels.std() > 15  # text and figures, not a blank page
    assert (pixels < 200).mean() > 0.02
