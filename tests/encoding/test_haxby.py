"""Real data: the encoding model finds Haxby's face > house voxels, like a GLM does."""

import numpy as np
import pandas as pd
import pytest

from brainalign import load_dataset
from brainalign.encoding import EncodingModel

TR = 2.5
CATEGORIES = ["face", "house", "cat", "shoe", "scissors", "bottle", "chair", "scrambledpix"]


@pytest.fixture(scope="module")
def haxby(haxby_dir):
    data = load_dataset("nifti", root=haxby_dir / "slice", labels="attributes_literal.txt")
    runs = data.row_meta["run"].to_numpy()
    events = []
    for run in np.unique(runs):
        labels = data.stimulus_ids[runs == run]
        start = 0
        for k in range(1, len(labels) + 1):
            if k == len(labels) or labels[k] != labels[start]:
                if labels[start] != "rest":
                    events.append(
                        {
                            "run": run,
                            "onset": start * TR,
                            "duration": (k - start) * TR,
                            "trial_type": labels[start],
                        }
                    )
                start = k
    return data, runs, pd.DataFrame(events)


def design(events, n_scans, run):
    from nilearn.glm.first_level import make_first_level_design_matrix

    frame_times = np.arange(n_scans) * TR
    ev = events[events["run"] == run].drop(columns="run")
    return make_first_level_design_matrix(
        frame_times, ev, hrf_model="glover", drift_model="cosine", high_pass=1 / 128
    )


@pytest.mark.filterwarnings("ignore:.*Generation of a mask has been requested:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:The same contrast will be used for all:RuntimeWarning")
def test_encoding_face_house_contrast_matches_a_nilearn_glm(haxby, haxby_dir):
    import nibabel as nib
    from nilearn.glm.first_level import FirstLevelModel
    from sklearn.model_selection import GroupKFold

    data, runs, events = haxby
    bold = nib.load(haxby_dir / "slice" / "bold.nii.gz")
    volumes = np.asarray(bold.dataobj, dtype=np.float32)
    run_imgs, designs = [], []
    for run in np.unique(runs):
        rows = np.flatnonzero(runs == run)
        run_imgs.append(nib.Nifti1Image(volumes[..., rows], bold.affine))
        designs.append(design(events, len(rows), run))
    glm = FirstLevelModel(mask_img=str(haxby_dir / "slice" / "mask.nii.gz"), minimize_memory=True)
    glm.fit(run_imgs, design_matrices=designs)
    z = np.asarray(glm.compute_contrast("face - house", output_type="z_score").dataobj)
    z = z[tuple(data.space.ijk.T)]

    # Encoding: HRF-convolved category regressors -> every voxel, runs z-scored,
    # penalties chosen leave-runs-out.
    X = np.vstack([d[CATEGORIES].to_numpy() for d in designs]).astype(np.float32)
    Y = data.zscore(by="run").responses
    cv = list(GroupKFold(4).split(X, Y, runs))
    model = EncodingModel(alphas=np.logspace(-2, 4, 13), cv=cv).fit(X, Y)
    contrast = model.coef_[0] - model.coef_[1]  # face minus house weights
    assert np.corrcoef(contrast, z)[0, 1] > 0.8  # measured: 0.84
    face, house = z > 3.1, z < -3.1  # voxels the GLM calls selective (p < 0.001)
    assert face.sum() >= 3 and house.sum() >= 20
    assert (contrast[face] > 0).all() and (contrast[house] < 0).all()
