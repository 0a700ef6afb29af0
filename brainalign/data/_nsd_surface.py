"""NSD betas on the cortical surface: ``fsaverage`` (.mgh) and ``nativesurface`` (.hdf5).

Layout (relative to the NSD root, see ``datasets/nsd.md``)::

    nsddata_betas/ppdata/subjAA/fsaverage/betas_fithrf_GLMdenoise_RR/
        {lh,rh}.betas_sessionNN.mgh     float32 percent signal change, (163842, 1, 1, 750)
        {lh,rh}.ncsnr.mgh
    nsddata_betas/ppdata/subjAA/nativesurface/betas_fithrf_GLMdenoise_RR/
        {lh,rh}.betas_sessionNN.hdf5    /betas int16 x 300, (750, n_vertices) in h5py
        {lh,rh}.ncsnr.mgh
    nsddata/freesurfer/{fsaverage,subjAA}/label/{lh,rh}.<roi>.mgz (+ <roi>.mgz.ctab)
    nsddata/freesurfer/{fsaverage,subjAA}/surf/{lh,rh}.{white,pial,inflated,sphere}
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import check_option, require_file
from brainalign.data import _nsd_layout as L
from brainalign.data._adapter import DatasetSummary, SubjectSummary
from brainalign.data._braindata import BrainData, scale_into, zscore_columns
from brainalign.data._nsd import (
    BETA_SCALE,
    NSD,
    TRIALS_PER_SESSION,
    _drop_columns,
    _progress,
    default_roi_size,
    select_sessions,
)
from brainalign.data._reading import read_text
from brainalign.data._registry import register_dataset
from brainalign.data._stimuli import NSDStimuli
from brainalign.data._surface import (
    HEMIS,
    SurfaceSpace,
    find_meshes,
    n_vertices_of,
    read_mgh_rows,
    read_mgh_vector,
    read_surface_hdf5,
)
from brainalign.exceptions import DataError


def surface_session_files(root: Path, subject: int, space: str) -> dict[int, dict[str, Path]]:
    """Betas files of both hemispheres for every session found.

    Parameters
    ----------
    root : Path
        NSD root.
    subject : int
        1-based subject number.
    space : {"fsaverage", "nativesurface"}
        Surface space.

    Returns
    -------
    dict of int -> dict of str -> Path
        Session -> ``{"lh": path, "rh": path}`` (sessions with both hemispheres only).
    """
    check_option("space", space, list(L.SURFACE_SPACES))
    out = {}
    for session in range(1, 100):
        files = {h: root / L.surface_betas_file(subject, h, session, space) for h in HEMIS}
        if all(p.exists() for p in files.values()):
            out[session] = files
    return out


def surface_roi_files(root: Path, subject: int, space: str) -> dict[str, dict]:
    """Surface ROI label files (both hemispheres) that have a ctab table.

    Returns
    -------
    dict of str -> dict
        ROI file name -> ``{"lh": path, "rh": path, "ctab": path}``.
    """
    folder = root / L.surface_label_file(subject, "lh", "x", space).parent
    out = {}
    for p in sorted(folder.glob("lh.*.mgz")):
        name = p.name[3 : -len(".mgz")]
        rh = root / L.surface_label_file(subject, "rh", name, space)
        ctabs = [
            root / L.surface_ctab_file(subject, name, space),
            root / L.ctab_file(subject, name),
        ]
        ctab = next((c for c in ctabs if c.exists()), None)
        if rh.exists() and ctab is not None:
            out[name] = {"lh": p, "rh": rh, "ctab": ctab}
    return out


def load_surface(
    nsd: NSD, subject, sessions, roi, space, zscore=True, average=False, progress=False
) -> BrainData:
    """Load one subject's single-trial surface betas (see :meth:`NSD.load`).

    Returns
    -------
    BrainData
        Columns are vertices of both hemispheres (``hemi, vertex``, one label column
        per ROI file, ``ncsnr``) in a :class:`SurfaceSpace`.
    """
    subject = nsd._check_subject(subject)
    files = _select_sessions(nsd.root, subject, sessions, space)
    first = next(iter(files.values()))
    n_vert = {h: n_vertices_of(first[h]) for h in HEMIS}
    labels = _read_labels(nsd.root, subject, space, n_vert)
    hemi, vertex = _vertices(labels, roi, n_vert, subject)
    col_meta = _column_table(nsd.root, subject, space, labels, hemi, vertex, n_vert)
    info = nsd._stim_info(["nsdId", "shared1000"] + [f"subject{subject}_rep{r}" for r in range(3)])
    rows = nsd._trial_table(subject, list(files), info)
    responses = np.empty((len(rows), vertex.size), dtype=np.float32)
    bad = ~np.isfinite(col_meta["ncsnr"].to_numpy()) if "ncsnr" in col_meta else False
    for n, pair in enumerate(_progress(files.values(), progress)):
        block = responses[n * TRIALS_PER_SESSION : (n + 1) * TRIALS_PER_SESSION]
        bad = bad | _read_session(pair, hemi, vertex, block, zscore, n_vert)
    positions = np.arange(vertex.size)
    responses, kept, col_meta = _drop_columns(responses, positions, col_meta, bad, "vertices")
    fs = L.freesurfer_subject(subject, space)
    data = BrainData(
        responses,
        rows.pop("nsd_id").to_numpy(),
        row_meta=rows,
        col_meta=col_meta,
        space=SurfaceSpace(
            n_vert, hemi[kept], vertex[kept], fs, find_meshes(nsd.root / L.surf_dir(subject, space))
        ),
        roi_columns=list(labels),
        stimuli=NSDStimuli.from_root(nsd.root),
        test_ids=nsd._shared_ids(info),
        info={
            "dataset": "nsd",
            "subject": subject,
            "root": str(nsd.root),
            "sessions": list(files),
            "roi": roi,
            "zscore": zscore,
            "space": space,
        },
    )
    return data.average_repetitions() if average else data


def _select_sessions(root, subject, sessions, space) -> dict[int, dict[str, Path]]:
    files = surface_session_files(root, subject, space)
    if not files:
        raise DataError(
            f"No {space} betas for subject {subject}: expected "
            f"{root / L.surface_betas_file(subject, 'lh', 1, space)} and its 'rh' twin."
        )
    return select_sessions(files, sessions, subject, f" in {space}")


def _read_labels(root, subject, space, n_vert) -> dict:
    """ROI file -> (per-hemisphere label vectors, value -> name table)."""
    labels = {}
    for name, paths in surface_roi_files(root, subject, space).items():
        vectors = {}
        for h in HEMIS:
            vec = read_mgh_vector(paths[h], "surface ROI labels")
            if vec.size != n_vert[h]:
                raise DataError(
                    f"Vertex count mismatch: {paths[h].name} has {vec.size} vertices but the "
                    f"{h} betas have {n_vert[h]}."
                )
            vectors[h] = np.rint(vec).astype(np.int64)
        labels[name] = (vectors, _read_ctab(paths["ctab"]))
    return labels


def _read_ctab(path: Path) -> dict[int, str]:
    table = {}
    for line_no, line in enumerate(read_text(path, "ROI label table").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2 or not parts[0].lstrip("-").isdigit():
            raise DataError(f"{path}, line {line_no}: expected 'value name'; got {line!r}.")
        table[int(parts[0])] = parts[1]
    table.pop(0, None)
    return table


def _vertices(labels, roi, n_vert, subject):
    """Hemisphere and vertex of every column of the requested ROI union (lh first)."""
    if roi is None:
        masks = {h: np.ones(n, dtype=bool) for h, n in n_vert.items()}
    else:
        if not labels:
            raise DataError(
                f"No surface ROI labels with label tables for subject {subject}: expected "
                "{lh,rh}.nsdgeneral.mgz and nsdgeneral.mgz.ctab in the space's label folder."
            )
        names = [roi] if isinstance(roi, str) else list(roi)
        known = list(labels) + [n for _, t in labels.values() for n in t.values()]
        masks = {h: np.zeros(n, dtype=bool) for h, n in n_vert.items()}
        for name in names:
            check_option("roi", name, list(dict.fromkeys(known)))
            for fname, (vectors, table) in labels.items():
                values = [v for v, n in table.items() if n == name]
                for h in HEMIS:
                    vec = vectors[h]
                    masks[h] |= (vec > 0) if name == fname else np.isin(vec, values)
    hemi = np.concatenate([np.full(int(masks[h].sum()), h) for h in HEMIS])
    vertex = np.concatenate([np.flatnonzero(masks[h]) for h in HEMIS])
    if vertex.size == 0:
        raise DataError(f"ROI {roi!r} holds no vertices for subject {subject}.")
    return hemi, vertex


def _column_table(root, subject, space, labels, hemi, vertex, n_vert) -> pd.DataFrame:
    table = pd.DataFrame({"hemi": hemi, "vertex": vertex})
    for fname, (vectors, names) in labels.items():
        values = np.empty(vertex.size, dtype=np.int64)
        for h in HEMIS:
            cols = hemi == h
            values[cols] = vectors[h][vertex[cols]]
        table[fname] = [names.get(v, "") for v in values]
    paths = {h: root / L.surface_ncsnr_file(subject, h, space) for h in HEMIS}
    if all(p.exists() for p in paths.values()):
        ncsnr = np.empty(vertex.size)
        for h in HEMIS:
            vec = read_mgh_vector(require_file(paths[h], "surface ncsnr"), "surface ncsnr")
            if vec.size != n_vert[h]:
                raise DataError(
                    f"Vertex count mismatch: {paths[h].name} has {vec.size} vertices but the "
                    f"{h} betas have {n_vert[h]}."
                )
            cols = hemi == h
            ncsnr[cols] = vec[vertex[cols]]
        table["ncsnr"] = ncsnr
    return table


def _read_session(pair, hemi, vertex, out, zscore, n_vert) -> np.ndarray:
    """Read one session (both hemispheres) into ``out``; return constant columns."""
    for h in HEMIS:
        cols = np.flatnonzero(hemi == h)
        if cols.size == 0:
            continue
        path = pair[h]
        if n_vertices_of(path) != n_vert[h]:
            raise DataError(
                f"Vertex count mismatch: {path.name} has {n_vertices_of(path)} vertices but "
                f"the first session's {h} betas have {n_vert[h]}."
            )
        read = read_surface_hdf5 if path.suffix == ".hdf5" else read_mgh_rows
        raw = read(path, vertex[cols], what="NSD surface betas file")
        if raw.shape[0] != out.shape[0]:
            raise DataError(
                f"{path} holds {raw.shape[0]} trials; an NSD session has {out.shape[0]}."
            )
        scale = BETA_SCALE if np.issubdtype(raw.dtype, np.integer) else 1.0
        part = np.empty((raw.shape[0], cols.size), dtype=np.float32)
        scale_into(raw, scale, part)
        out[:, cols] = part
    if zscore:
        return zscore_columns(out)
    return ~np.isfinite(out).all(axis=0) | (out.min(axis=0) == out.max(axis=0))


def surface_roi_counts(root: Path, subject: int, space: str) -> dict[str, dict[str, int]]:
    """Vertices of every surface ROI label, both hemispheres together.

    Parameters
    ----------
    root : Path
        NSD root.
    subject : int
        1-based subject number.
    space : {"fsaverage", "nativesurface"}
        Surface space.

    Returns
    -------
    dict of str -> dict of str -> int
        ROI file -> {label: n_vertices}.
    """
    counts = {}
    for name, paths in surface_roi_files(root, subject, space).items():
        vectors = [read_mgh_vector(paths[h], "surface ROI labels") for h in HEMIS]
        vectors = [np.rint(vec).astype(np.int64) for vec in vectors]
        counts[name] = {
            label: int(sum((vec == value).sum() for vec in vectors))
            for value, label in _read_ctab(paths["ctab"]).items()
        }
    return counts


class _SurfaceNSD(NSD):
    """NSD whose ``load`` defaults to a surface space (for ``--dataset`` names)."""

    surface_space = "fsaverage"

    def load(self, subject=1, sessions=None, roi="nsdgeneral", space=None, **kwargs):
        """Load surface betas; see :meth:`NSD.load` (``space`` defaults to the name's)."""
        return super().load(subject, sessions, roi, space=space or self.surface_space, **kwargs)

    def describe(self, subject=None) -> DatasetSummary:
        """Summarise the surface betas on disk without reading them.

        Parameters
        ----------
        subject : int, optional
            Restrict to one subject.

        Returns
        -------
        DatasetSummary
            As :meth:`NSD.describe`, for the surface files: ``n_targets`` counts the
            ``nsdgeneral`` vertices, ``rois`` the vertices of each surface label, and
            each subject's ``extra`` the vertices per hemisphere; ``extra`` names the
            ``space``.
        """
        subjects = self.subjects() if subject is None else [self._check_subject(subject)]
        design = self._design()
        facts = {s: self._surface_summary(s, design) for s in subjects}
        stimuli = NSDStimuli.from_root(self.root).summary()
        return self._summary(facts, stimuli=stimuli, space=self.surface_space)

    def _surface_summary(self, subject: int, design) -> SubjectSummary:
        files = surface_session_files(self.root, subject, self.surface_space)
        rois = surface_roi_counts(self.root, subject, self.surface_space)
        first = next(iter(files.values()), None)
        n_vert = {h: n_vertices_of(first[h]) for h in HEMIS} if first else {}
        return SubjectSummary(
            sessions=list(files),
            n_trials=len(files) * TRIALS_PER_SESSION,
            n_stimuli=int(self._images_seen(subject, design, list(files)).size),
            n_targets=default_roi_size(rois),
            rois=rois,
            formats=["mgh" if self.surface_space == "fsaverage" else "hdf5"],
            extra={"n_vertices": n_vert},
        )


@register_dataset("nsd-fsaverage")
class NSDFsaverage(_SurfaceNSD):
    """NSD betas on fsaverage (``{lh,rh}.betas_sessionNN.mgh``), as a dataset name."""

    surface_space = "fsaverage"


@register_dataset("nsd-nativesurface")
class NSDNativeSurface(_SurfaceNSD):
    """NSD betas on the subject's native surface (``.hdf5``), as a dataset name."""

    surface_space = "nativesurface"
