"""Screenshots of the fit, compare, decode, EEG and category reports, in headless Chromium.

``make screenshots`` runs this script: it runs ``brainalign demo`` (NSD sample: fit,
compare, caption, decode), fits and decodes the THINGS-EEG2 sample, runs
``brainalign demo --pretrained`` on the real face/house data when ``--data`` holds it,
writes the reports and saves a full-page PNG of each under ``docs/screenshots/``. Every page is
also checked as a reader's browser would see it: no console errors, no request
leaving the machine.

usage: python docs/screenshots.py [--work DIR] [--out docs/screenshots] [--data DIR]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
MODEL = "torch:brainalign.data.sample:SampleNet@0"
#: Page width of the screenshots, in CSS pixels.
WIDTH = 1280


def eeg_steps(work: Path) -> list[list[str]]:
    """Return the command lines of the EEG part (sample, fit, decode, reports)."""
    root = str(work / "sample_eeg")
    data = ["--dataset", "things-eeg2", "--root", root, "--subject", "1", "--model", MODEL]
    fit, decode = str(work / "run_eeg_fit"), str(work / "run_eeg_decode")
    return [
        ["sample", "things-eeg2", "--out", root],
        ["fit", *data, "--layer", "layer6", "--out", fit],
        ["decode", *data, "--layer", "layer6", "--out", decode],
        ["report", fit],
        ["report", decode],
    ]


def run_pipelines(work: Path, data: Path) -> None:
    """Run the demos and the EEG steps (finished steps are reused where the verbs allow)."""
    from brainalign.cli import main

    if main(["demo", "--out", str(work), "-q"]):
        sys.exit("the demo failed")
    pretrained = ["demo", "--pretrained", "--data", str(data), "--out", str(work / "pretrained")]
    if data.is_dir() and main([*pretrained, "-q"]):
        sys.exit("the pretrained demo failed")
    for argv in eeg_steps(work):
        extra = ["--overwrite"] if argv[0] in ("fit", "decode") else []
        if main([*argv, *extra, "-q"]):
            sys.exit(f"'brainalign {' '.join(argv)}' failed")


def start_browser():
    """Start headless Chromium logging console messages and network requests."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={WIDTH},900",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def external_requests(performance_log) -> list[str]:
    """Return the URLs requested that are not local (``file:``, ``data:``, ``blob:``)."""
    urls = []
    for entry in performance_log:
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if not url.startswith(("file:", "data:", "blob:")):
                urls.append(url)
    return urls


def save_small(png: bytes, target: Path) -> None:
    """Save a PNG in 256 colours (a third of the bytes; text and figures stay sharp)."""
    from PIL import Image

    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(io.BytesIO(png)) as image:
        image.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE).save(
            target, optimize=True
        )


def screenshot(driver, page: Path, target: Path) -> list[str]:
    """Save a full-page PNG of ``page``; return its problems (console errors, requests)."""
    driver.get_log("performance")  # drop what earlier pages logged
    driver.get(page.resolve().as_uri())
    height = driver.execute_script("return document.documentElement.scrollHeight")
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"captureBeyondViewport": True, "clip": {"x": 0, "y": 0, "width": WIDTH,
                                                  "height": height, "scale": 1}},
    )  # fmt: skip
    save_small(base64.b64decode(shot["data"]), target)
    problems = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    return problems + [f"request: {u}" for u in external_requests(driver.get_log("performance"))]


def main(argv=None) -> int:
    """Run the pipelines and save one screenshot per report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("demo_output"), help="output folder")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"), help="PNG folder")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("../shared/data/n170_faces_houses"),
        help="eeg-notebooks' N170 folder for the pretrained demo (skipped when missing)",
    )
    args = parser.parse_args(argv)
    run_pipelines(args.work, args.data)
    pages = {
        "fit": args.work / "run_fit" / "report.html",
        "compare": args.work / "run_compare" / "report.html",
        "decode": args.work / "run_decode" / "report.html",
        "eeg_fit": args.work / "run_eeg_fit" / "report.html",
        "eeg_decode": args.work / "run_eeg_decode" / "report.html",
    }
    if args.data.is_dir():
        pages["categories"] = args.work / "pretrained" / "run_categories" / "report.html"
    driver = start_browser()
    failed = False
    try:
        for name, page in pages.items():
            problems = screenshot(driver, page, args.out / f"{name}.png")
            print(f"{args.out / f'{name}.png'}: {page}" + "".join(f"\n  {p}" for p in problems))
            failed |= bool(problems)
    finally:
        driver.quit()
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
