"""Show what a dataset folder holds: subjects, sessions, trials, ROIs, stimuli.

Reads only headers and small files (no betas).

example:
  brainalign info --dataset nsd --root sample_nsd
  brainalign info --dataset algonauts2023 --root sample_algonauts --subject 1
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

    summary = get_dataset(args.dataset, args.root).describe(subject=args.subject)
    print(json.dumps(summary.to_dict(), indent=2) if args.json else summary.format())
    return 0
