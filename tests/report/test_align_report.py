"""The report of an ``align`` run, and the shared space of a ``fit --shared-space`` run."""

import json
import shutil

import pandas as pd
import pytest

from brainalign.exceptions import DataError
from brainalign.report import render_report

#: Sections of an encoding run that an align run has no use for.
FIT_SECTIONS = {"roi-table", "sweep", "maps", "rsa", "decoding", "figures"}


@pytest.fixture(scope="module")
def align_run(alignment_run):
    """Return the session's align run: 4 subjects of the alignment sample, k = 37."""
    return alignment_run.path


def _table(run, name):
    return pd.read_parquet(run / f"{name}.parquet")


def test_an_align_run_gets_its_own_section_and_no_fit_sections(align_run, render):
    html, parsed = render(align_run)
    record = json.loads((align_run / "run.json").read_text())
    expected = ["provenance"] + (["warnings"] if record["warnings"] else []) + ["alignment"]
    assert parsed.sections == expected
    assert not FIT_SECTIONS & set(parsed.sections)
    assert {"align-curve", "align-identification", "align-predictivity"} <= parsed.ids
    assert len(parsed.srcs) == 3 and all(
        s.startswith("data:image/png;base64,") for s in parsed.srcs
    )
    data = record["data"]
    assert "A shared space of k = 37 dimensions was fitted by SRM over subjects 1, 2, 3, 4" in html
    assert f"from n_align = {data['n_align']} of the {data['n_shared']} stimuli" in html
    assert f"The other n_test = {data['n_test']} are held out" in html


def test_headline_numbers_are_the_run_summary(align_run, render):
    html, _ = render(align_run)
    summary = json.loads((align_run / "run.json").read_text())["summary"]
    m = summary["n_adapt"]
    assert (
        f"mean r through the shared space (m = {m})</dt><dd>{summary['mean_r_shared']:.3f}" in html
    )
    top1 = summary["top1_cross_subject"]
    assert f"top-1 identification, cross-subject (m = {m})</dt><dd>{top1:.3f}" in html
    assert f"top-1 chance</dt><dd>{summary['top1_chance']:.3f}" in html


def test_identification_table_shows_top1_cross_within_and_chance(align_run, render):
    _, parsed = render(align_run)
    ident = _table(align_run, "identification")
    top1 = ident[ident["metric"] == "top1"]
    sizes = sorted(top1["n_adapt"].dropna().astype(int).unique())
    rows = parsed.rows("align-identification-table")
    assert [r["held-out subject"] for r in rows] == ["1", "2", "3", "4"]
    for row in rows:
        mine = top1[top1["held_out"] == int(row["held-out subject"])]
        for m in sizes:
            value = mine.loc[mine["n_adapt"] == m, "value"].item()
            assert row[f"cross-subject, m = {m}"] == f"{value:.3f}"
        within = mine.loc[mine["decoder"] == "within-subject", "value"].item()
        assert row["within-subject"] == f"{within:.3f}"
        assert row["chance"] == f"{mine['chance'].iloc[0]:.3f}"
        assert row["held-out stimuli"] == str(mine["n_test"].iloc[0])


def test_learning_curve_table_shows_the_ratio_by_m(align_run, render):
    _, parsed = render(align_run)
    curve = _table(align_run, "learning_curve")
    whole = curve[curve["roi"] == "all targets"]
    sizes = sorted(whole["n_adapt"].unique())
    assert sizes[-1] == json.loads((align_run / "run.json").read_text())["data"]["n_align"]
    rows = parsed.rows("align-curve-table")
    assert list(rows[0]) == ["held-out subject", "own encoder r"] + [f"m = {m}" for m in sizes]
    for row in rows:
        mine = whole[whole["held_out"] == int(row["held-out subject"])].set_index("n_adapt")
        assert row["own encoder r"] == f"{mine['mean_r_within'].iloc[0]:.3f}"
        assert [row[f"m = {m}"] for m in sizes] == [f"{mine.at[m, 'ratio']:.2f}" for m in sizes]


def test_subject_to_subject_table_is_source_by_target(align_run, render):
    _, parsed = render(align_run)
    ceiling = _table(align_run, "subject_predictivity")
    whole = ceiling[ceiling["roi"] == "all targets"]
    rows = parsed.rows("align-predictivity-table")
    labels = ["subject 1", "subject 2", "subject 3", "subject 4", "all others"]
    assert [r["predicted from"] for r in rows] == labels
    for row, source in zip(rows, ["1", "2", "3", "4", "others"], strict=True):
        for target in (1, 2, 3, 4):
            cell = row[f"subject {target}"]
            if source == str(target):
                assert cell == "–"  # a subject does not predict itself
                continue
            pick = (whole["source"] == source) & (whole["target"] == target)
            assert cell == f"{whole.loc[pick, 'mean_r'].item():.3f}"


def test_roi_table_averages_the_largest_m_over_held_out_subjects(align_run, render):
    _, parsed = render(align_run)
    curve = _table(align_run, "learning_curve")
    last = curve[curve["n_adapt"] == curve["n_adapt"].max()]
    means = last.groupby("roi", sort=False)[["mean_r_shared", "mean_r_within"]].mean()
    rows = parsed.rows("align-roi-table")
    assert [r["ROI"] for r in rows] == list(means.index)
    assert rows[0]["ROI"] == "all targets"
    for row in rows:
        assert row["mean r, shared space"] == f"{means.at[row['ROI'], 'mean_r_shared']:.3f}"
        assert row["mean r, own encoder"] == f"{means.at[row['ROI'], 'mean_r_within']:.3f}"


def test_a_table_without_its_columns_is_an_error(align_run, tmp_path):
    run = shutil.copytree(align_run, tmp_path / "run", ignore=shutil.ignore_patterns("features"))
    ident = _table(run, "identification").drop(columns="decoder")
    ident.to_parquet(run / "identification.parquet", index=False)
    with pytest.raises(DataError, match=r"identification.parquet lacks the columns \['decoder'\]"):
        render_report(run)


def test_a_fit_through_a_shared_space_names_it(builder, render):
    record = builder.record()
    plain_html, plain = render(builder.path)
    record["parameters"]["shared_space"] = "runs/aligned"
    record["shared_space"] = {
        "run": "runs/aligned",
        "method": "srm-prob",
        "n_components": 12,
        "trained_on_subjects": [2, 3],
        "n_training_rows": 900,
        "subject_map": "fitted with the space",
    }
    (builder.path / "run.json").write_text(json.dumps(record))
    html, page = render(builder.path)
    assert page.sections == plain.sections  # one sentence more, no section more
    sentence = (
        "Cross-subject fit: the encoder was trained on subjects 2, 3 through the shared "
        "space of runs/aligned (probabilistic SRM, k = 12), reached subject 1 through its "
        "map, fitted with the space, and was scored on that run&#39;s held-out stimuli."
    )
    provenance = html.split('<section id="provenance">')[1].split("</section>")[0]
    assert sentence in provenance
    assert "Cross-subject" not in plain_html
