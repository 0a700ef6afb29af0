"""Paths of the NSD release, relative to the NSD root (see shared NSD_FORMAT.md)."""

from __future__ import annotations

from pathlib import PurePosixPath as P

EXPDESIGN = P("nsddata/experiments/nsd/nsd_expdesign.mat")
STIM_INFO = P("nsddata/experiments/nsd/nsd_stim_info_merged.csv")
STIMULI_HDF5 = P("nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5")
BETAS_VERSION = "betas_fithrf_GLMdenoise_RR"
SPACE = "func1pt8mm"


def subject_dir(subject: int) -> str:
    """Return ``subjAA`` for a 1-based subject number."""
    return f"subj{subject:02d}"


def betas_dir(subject: int, space: str = SPACE) -> P:
    """Folder of a subject's betas (and ncsnr)."""
    return P("nsddata_betas/ppdata") / subject_dir(subject) / space / BETAS_VERSION


def betas_file(subject: int, session: int, ext: str, space: str = SPACE) -> P:
    """``betas_sessionNN.<ext>`` of a subject (ext: ``nii.gz`` or ``hdf5``)."""
    return betas_dir(subject, space) / f"betas_session{session:02d}.{ext}"


def ncsnr_file(subject: int, space: str = SPACE) -> P:
    """``ncsnr.nii.gz`` beside the betas."""
    return betas_dir(subject, space) / "ncsnr.nii.gz"


def roi_dir(subject: int, space: str = SPACE) -> P:
    """Folder of a subject's volume ROIs."""
    return P("nsddata/ppdata") / subject_dir(subject) / space / "roi"


def roi_file(subject: int, name: str, space: str = SPACE) -> P:
    """``<name>.nii.gz`` ROI volume (``lh.``/``rh.`` prefixes for hemispheres)."""
    return roi_dir(subject, space) / f"{name}.nii.gz"


def brainmask_file(subject: int, space: str = SPACE) -> P:
    """Return the liberal brain mask used to zero the betas."""
    return P("nsddata/ppdata") / subject_dir(subject) / space / "brainmask.nii.gz"


def t1_file(subject: int, space: str = SPACE) -> P:
    """Return the T1 resampled to the functional grid (``T1_to_func1pt8mm.nii.gz``)."""
    return P("nsddata/ppdata") / subject_dir(subject) / space / f"T1_to_{space}.nii.gz"


def ctab_file(subject: int, name: str) -> P:
    """``<name>.mgz.ctab`` label names of an ROI file."""
    return P("nsddata/freesurfer") / subject_dir(subject) / "label" / f"{name}.mgz.ctab"


def captions_json(split: str) -> P:
    """COCO captions file of a split (``train2017`` or ``val2017``)."""
    return P("nsddata_stimuli/stimuli/nsd/annotations") / f"captions_{split}.json"


# -- cortical surfaces (space "fsaverage" or "nativesurface") ------------------------
SURFACE_SPACES = ("fsaverage", "nativesurface")


def surface_betas_file(subject: int, hemi: str, session: int, space: str) -> P:
    """``{lh,rh}.betas_sessionNN.mgh`` (fsaverage) or ``.hdf5`` (nativesurface)."""
    ext = "mgh" if space == "fsaverage" else "hdf5"
    return betas_dir(subject, space) / f"{hemi}.betas_session{session:02d}.{ext}"


def surface_ncsnr_file(subject: int, hemi: str, space: str) -> P:
    """``{lh,rh}.ncsnr.mgh`` beside the surface betas."""
    return betas_dir(subject, space) / f"{hemi}.ncsnr.mgh"


def freesurfer_subject(subject: int, space: str) -> str:
    """FreeSurfer subject of a surface space: ``fsaverage`` or ``subjAA``."""
    return "fsaverage" if space == "fsaverage" else subject_dir(subject)


def surface_label_file(subject: int, hemi: str, name: str, space: str) -> P:
    """``{lh,rh}.<name>.mgz`` surface ROI labels of the space's FreeSurfer subject."""
    fs = freesurfer_subject(subject, space)
    return P("nsddata/freesurfer") / fs / "label" / f"{hemi}.{name}.mgz"


def surface_ctab_file(subject: int, name: str, space: str) -> P:
    """``<name>.mgz.ctab`` beside the surface labels of the space's FreeSurfer subject."""
    fs = freesurfer_subject(subject, space)
    return P("nsddata/freesurfer") / fs / "label" / f"{name}.mgz.ctab"


def surf_dir(subject: int, space: str) -> P:
    """``surf`` folder (meshes ``lh.white``, ``lh.inflated``, ...) of the space."""
    return P("nsddata/freesurfer") / freesurfer_subject(subject, space) / "surf"


def transforms_dir(subject: int) -> P:
    """``nsddata/ppdata/subjAA/transforms`` (NSD's precomputed mappings between spaces)."""
    return P("nsddata/ppdata") / subject_dir(subject) / "transforms"


def volume_to_surface_file(subject: int, hemi: str, surface: str, source: str = "func1pt8") -> P:
    """``{lh,rh}.func1pt8-to-<surface>.mgz``: the voxel (1-based, 9999 = none) of each vertex."""
    return transforms_dir(subject) / f"{hemi}.{source}-to-{surface}.mgz"


def native_to_fsaverage_file(subject: int, hemi: str) -> P:
    """``{lh,rh}.white-to-fsaverage.mgz``: the native vertex (1-based) of each fsaverage vertex."""
    return transforms_dir(subject) / f"{hemi}.white-to-fsaverage.mgz"
