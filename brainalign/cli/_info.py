"""Show what a dataset folder holds: subjects, sessions, trials, ROIs, stimuli.

Reads only headers and small files (no betas).

example:
  brainalign info --dataset nsd --root sample_nsd
  brainalign info --dataset nifti --root haxby2001/slice --json
"""

from __future__ import annotations

import json


def add_arguments(parser) -> None:
    """Add this verb's arguments."""
    parser.add_argument(
        "--dataset",
        required=True,
        help="dataset name (brainalign.list_datasets(): nsd, things-eeg2, ...)",
    )
    parser.add_argument("--root", required=True, metavar="DIR", help="dataset folder")
    parser.add_argument("--subject", type=int, default=None, help="only this subject")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args) -> int:
    """Describe the dataset."""
    from brainalign.data import get_dataset

    adapter = get_dataset(args.dataset, args.root)
    kwargs = {"subject": args.subject} if args.subject is not None else {}
    summary = adapter.describe(**kwargs)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def format_summary(summary: dict) -> str:
    """Render a dataset summary as readable text.

    Parameters
    ----------
    summary : dict
        Output of an adapter's ``describe``.

    Returns
    -------
    str
        Text, one fact per line.
    """
    lines = [f"dataset: {summary.get('dataset')}"]
    if "root" in summary:
        lines.append(f"root: {summary['root']}")
    for subject, facts in summary.get("subjects", {}).items():
        lines.append(
            f"subject {subject}: {len(facts['sessions'])} sessions "
            f"{facts['sessions']}, {facts['trials']} trials, "
            f"{facts['n_images']} images, betas {'/'.join(facts['betas_format'])}"
        )
        for fname, labels in facts["rois"].items():
            parts = ", ".join(f"{k} {v}" for k, v in labels.items())
            lines.append(f"  roi {fname}: {parts}")
    if summary.get("stimuli"):
        shape = summary["stimuli"]["shape"]
        lines.append(
            f"stimuli: {summary['stimuli']['path']} "
            f"({'missing' if shape is None else ' x '.join(map(str, shape))})"
        )
    for key in ("rows", "targets", "n_stimuli", "repetitions", "row_metadata"):
        if key in summary:
            lines.append(f"{key}: {summary[key]}")
    return "\n".join(lines)
