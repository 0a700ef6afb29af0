"""Write an embedded sample dataset with its planted ground truth.

The NSD sample has the exact NSD layout (design .mat, stim-info CSV, nsd_stimuli.hdf5,
betas per session as NIfTI and HDF5, ROI volumes with ctab files, ncsnr, COCO-style
captions) plus DIR/ground_truth.json and DIR/true_noise_ceiling.nii.gz.
The THINGS-EEG2 sample has the preprocessed release layout
(preprocessed_data/sub-XX/preprocessed_eeg_{training,test}.npy, image_set/ with
image_metadata.npy and the JPEG images) plus DIR/ground_truth.json, whose "effects"
list the channels and latency of each planted feature signal.
The NSD sample also holds the surface layout (fsaverage .mgh and nativesurface .hdf5
betas, {lh,rh}.<roi>.mgz labels, {lh,rh}.ncsnr.mgh, small meshes in freesurfer/*/surf),
each vertex one cortex voxel, so the planted truth is the same on the surface.
The Algonauts 2023 sample has the challenge layout (subjAA/training_split,
test_split, roi_masks), prepared from an NSD sample of the same seed as the challenge
was prepared from NSD; its test split is the shared images.
The nsd-alignment sample is the NSD sample for shared-space methods (4 subjects,
3 sessions, 300 shared images): each subject mixes a planted shared latent with its
own weights, has about 6% fewer nsdgeneral voxels than the grid holds, and the latent
is written to DIR/shared_latent.npz; its size is fixed (no --sessions, --subjects).
The nsd-spatial sample plants spatial receptive fields for attention encoders (1
subject, 4 sessions, 200 held-out images): ROIs are driven by the token at a known
location of SamplePatchNet's 5 x 5 token map (layer "block"), the locations in
DIR/ground_truth.json "spatial"; its size is fixed too.
A folder that already holds the same complete sample is reused.

example:
  brainalign sample nsd --out sample_nsd --seed 0
  brainalign sample nsd-alignment --out sample_alignment --seed 0
  brainalign sample nsd-spatial --out sample_spatial --seed 0
  brainalign sample things-eeg2 --out sample_eeg --seed 0
  brainalign sample algonauts2023 --out sample_algonauts --seed 0
"""

from __future__ import annotations

_NAMES = ["nsd", "nsd-alignment", "nsd-spatial", "things-eeg2", "algonauts2023"]
#: Defaults of --sessions and --subjects (nsd-alignment and nsd-spatial have their own).
_SESSIONS, _SUBJECTS = 4, 2


def add_arguments(parser) -> None:
    """Add this verb's arguments."""
    parser.add_argument("name", choices=_NAMES, help="which sample to write")
    parser.add_argument("--out", required=True, metavar="DIR", help="destination folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--sessions",
        type=int,
        help=f"NSD: sessions per subject, 750 trials each (default: {_SESSIONS})",
    )
    parser.add_argument("--subjects", type=int, help=f"number of subjects (default: {_SUBJECTS})")


def run(args) -> int:
    """Write the sample and print its path."""
    if args.name in ("nsd-alignment", "nsd-spatial"):
        print(_write_fixed(args))
        return 0
    sessions = _SESSIONS if args.sessions is None else args.sessions
    subjects = _SUBJECTS if args.subjects is None else args.subjects
    if args.name == "things-eeg2":
        from brainalign.data.sample import write_things_eeg2_sample

        out = write_things_eeg2_sample(
            args.out, seed=args.seed, progress=not args.quiet, n_subjects=subjects
        )
    elif args.name == "algonauts2023":
        from brainalign.data.sample import write_algonauts2023_sample

        out = write_algonauts2023_sample(
            args.out,
            seed=args.seed,
            progress=not args.quiet,
            n_sessions=sessions,
            n_subjects=subjects,
        )
    else:
        from brainalign.data.sample import write_nsd_sample

        out = write_nsd_sample(
            args.out,
            seed=args.seed,
            progress=not args.quiet,
            n_sessions=sessions,
            n_subjects=subjects,
        )
    print(out)
    return 0


def _write_fixed(args):
    """Write a sample whose size is fixed (``ALIGNMENT_SAMPLE``, ``SPATIAL_SAMPLE``)."""
    from brainalign.data.sample import ALIGNMENT_SAMPLE, SPATIAL_SAMPLE, write_nsd_sample
    from brainalign.exceptions import ParameterError

    sizes = ALIGNMENT_SAMPLE if args.name == "nsd-alignment" else SPATIAL_SAMPLE
    given = [f"--{n}" for n in ("sessions", "subjects") if getattr(args, n) is not None]
    if given:
        raise ParameterError(
            f"The {args.name} sample has a fixed size ({sizes['n_subjects']} "
            f"subject(s), {sizes['n_sessions']} sessions); drop {' and '.join(given)}."
        )
    return write_nsd_sample(args.out, seed=args.seed, progress=not args.quiet, **sizes)
