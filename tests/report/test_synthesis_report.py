"""The report of a ``synthesize`` run: its own section, grids and numbers, in a browser."""

import json

import pandas as pd


def test_a_synthesis_run_gets_its_section_and_no_fit_sections(synthesis_run, render):
    html, parsed = render(synthesis_run)
    record = json.loads((synthesis_run / "run.json").read_text())
    assert parsed.sections == ["provenance", "warnings", "synthesis"]
    assert {"synth-FFA-1", "synth-V1v", "synth-selectivity", "synthesis-summary"} <= parsed.ids
    rows = {r["ROI"]: r for r in parsed.rows("synthesis-summary")}
    table = pd.read_parquet(synthesis_run / "synthesis.parquet")
    for roi, part in table.groupby("roi"):
        assert rows[roi]["median z"] == f"{part['z'].median():.2f}"
        assert rows[roi]["best bank image z"] == f"{part['bank_best_z'].iloc[0]:.2f}"
        assert rows[roi]["% above best bank image"] == "100"
    assert "gradient ascent in image space" in html and "the starting images of the same" in html
    assert f"({record['bank']['n_images']} images: the subject&#39;s training images)" in html
    assert "layer6" in html  # the source run's layer reaches the summary
    assert "&#34;calibration&#34;" not in html and '"calibration"' not in html


def test_the_synthesis_report_in_the_browser(synthesis_run, browser):
    from brainalign.report import write_report

    browser.get(write_report(synthesis_run).resolve().as_uri())
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    assert browser.find_element("id", "synthesis").is_displayed()
    widths = browser.execute_script(
        "return Array.from(document.images).map(function (i) { return i.naturalWidth; })"
    )
    assert len(widths) == 3 and min(widths) > 400  # two grids and the selectivity matrix
