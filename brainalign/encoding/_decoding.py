"""DecodingModel: brain responses -> a model's embedding space, and its evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainalign._utils import check_positive_int
from brainalign.encoding._identification import (
    cosine_similarity,
    identification_scores,
)
from brainalign.encoding._model import EncodingModel
from brainalign.encoding._scores import pearson_r
from brainalign.exceptions import DataError, ParameterError


class DecodingModel(EncodingModel):
    """Decoder: brain responses (voxels, channels) -> a model embedding by ridge.

    The mirror image of :class:`EncodingModel`: the brain responses are the
    inputs (z-scored with training statistics) and every embedding dimension is
    a target with its own cross-validated alpha (or one shared alpha with
    ``alpha_per_target=False``). When voxels outnumber training samples the
    default solver works in the kernel (dual) form, so a 15,000-voxel decoder
    costs an ``n x n`` eigendecomposition per fold.

    Parameters
    ----------
    alphas : sequence of float, optional
        Positive ridge penalties (default: 21 values from 1e-2 to 1e8).
    cv : int, cross-validation splitter or iterable of (train, test) indices
        Folds for alpha selection (use a group splitter with ``fit(..., groups=run)``
        when samples of a run are correlated).
    solver : {"auto", "eigh", "ridge", "kernel"}
        ``auto``/``eigh``: brainalign's engine (kernel form when voxels outnumber
        samples); ``ridge``/``kernel``: himalaya's ``RidgeCV``/``KernelRidgeCV``.
    standardize : bool
        Z-score the responses with statistics of the training data.
    fit_intercept : bool
        Fit an intercept per embedding dimension.
    backend : {"numpy", "torch", "torch_cuda"}
        Where the ridge runs.
    n_targets_batch : int, optional
        Embedding dimensions solved at once.
    alpha_per_target : bool
        One alpha per embedding dimension (default) or one for all.

    Attributes
    ----------
    coef_ : ndarray of shape (n_voxels, n_dims)
        Weights on the standardised responses.
    intercept_ : ndarray of shape (n_dims,)
        Intercepts.
    best_alphas_ : ndarray of shape (n_dims,)
        Chosen alpha per dimension.
    cv_scores_ : ndarray of shape (n_dims,)
        Cross-validated negative mean squared error of the chosen alpha.

    Examples
    --------
    >>> dec = DecodingModel().fit(train_voxels, train_embeddings)  # doctest: +SKIP
    >>> dec.score_identification(test_voxels, test_embeddings)  # doctest: +SKIP
    {'top1': (0.42, 0.01), 'top5': (0.71, 0.05), 'pairwise': (0.93, 0.5)}
    """

    def score_identification(self, X, Y, top_k=(1, 5)) -> dict:
        """Identify each test stimulus among all test stimuli from its decoded embedding.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_voxels)
            Test responses.
        Y : array-like of shape (n_samples, n_dims)
            True embeddings of the same stimuli (the candidates).
        top_k : sequence of int
            Top-k accuracies to report.

        Returns
        -------
        dict
            ``{metric: (value, chance)}``: ``top1``, ``top5`` ... and ``pairwise``.
        """
        return identification_scores(self.predict(X), Y, top_k=top_k)

    def predict_label(self, X, prototypes) -> np.ndarray:
        """Label of the nearest prototype (by cosine) to each decoded embedding.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_voxels)
            Responses.
        prototypes : mapping of label -> array of shape (n_dims,)
            One embedding per class (e.g. the mean embedding of its training stimuli).

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
            Predicted labels.
        """
        labels = list(prototypes)
        if not labels:
            raise ParameterError("Invalid value for 'prototypes': expected at least one label.")
        matrix = np.stack([np.asarray(prototypes[k], dtype=np.float64) for k in labels])
        pred = np.asarray(self.predict(X), dtype=np.float64).reshape(len(X), -1)
        return np.asarray(labels)[cosine_similarity(pred, matrix).argmax(1)]


def decoding_scores(predicted, true, top_k=(1, 5)) -> pd.DataFrame:
    """All decoding metrics of one decoder, with their chance levels.

    Parameters
    ----------
    predicted, true : array-like of shape (n, n_dims)
        Decoded and true embeddings of the test stimuli, row by row.
    top_k : sequence of int
        Top-k identification accuracies.

    Returns
    -------
    pandas.DataFrame
        Columns ``metric, value, chance``: ``mean_r`` and ``median_r`` (Pearson r
        per embedding dimension), ``top1``, ``top5`` ..., ``pairwise``.
    """
    r = pearson_r(true, predicted)
    rows = [("mean_r", float(np.mean(r)), 0.0), ("median_r", float(np.median(r)), 0.0)]
    rows += [(m, v, c) for m, (v, c) in identification_scores(predicted, true, top_k).items()]
    return pd.DataFrame(rows, columns=["metric", "value", "chance"])


def decode_rois(data, targets, rois=None, estimator=None, top_k=(1, 5), progress=True):
    """Fit one decoder per ROI (and one on all targets) and score each on the test set.

    Parameters
    ----------
    data : BrainData
        Responses with a train/test split (see :meth:`BrainData.split`); repetitions
        already averaged.
    targets : FeatureSet
        Embeddings of (at least) every stimulus of ``data``; joined by stimulus id.
    rois : sequence of str, optional
        ROIs to decode from separately (default: all of ``data.roi_names()``);
        ``"all"`` is always added for the decoder on every target.
    estimator : DecodingModel, optional
        Template estimator (cloned per ROI; default ``DecodingModel()``).
    top_k : sequence of int
        Top-k identification accuracies.
    progress : bool
        Show a progress bar over ROIs.

    Returns
    -------
    dict
        ``scores``: a table with columns ``roi, metric, value, chance, n_targets,
        n_test``; ``predictions``: ROI -> decoded test embeddings; ``test_ids``.
    """
    from sklearn.base import clone
    from tqdm.auto import tqdm

    train, test = data.split()
    names = ["all"] + list(data.roi_names() if rois is None else rois)
    if len(set(names)) != len(names):
        raise ParameterError(f"Invalid value for 'rois': names repeat or include 'all'; got {rois}")
    estimator = DecodingModel() if estimator is None else estimator
    y_train, y_test = targets.align(train.stimulus_ids), targets.align(test.stimulus_ids)
    tables, predictions = [], {}
    for roi in tqdm(names, desc="decoding ROIs", disable=not progress):
        tr, te = (train, test) if roi == "all" else (train.select_rois(roi), test.select_rois(roi))
        if tr.responses.shape[1] == 0:
            raise DataError(f"ROI {roi!r} has no targets in this dataset.")
        est = clone(estimator).fit(tr.responses, y_train)
        predictions[roi] = est.predict(te.responses)
        table = decoding_scores(predictions[roi], y_test, top_k)
        table.insert(0, "roi", roi)
        table["n_targets"] = tr.responses.shape[1]
        table["n_test"] = len(y_test)
        tables.append(table)
    return {
        "scores": pd.concat(tables, ignore_index=True),
        "predictions": predictions,
        "test_ids": test.stimulus_ids,
    }


def retrieve_captions(predicted, bank_embeddings, bank_captions, k: int = 5) -> pd.DataFrame:
    """Nearest captions of a caption bank to each decoded embedding.

    The "brain captioning by retrieval" idea: the decoded embedding (e.g. a CLIP
    image embedding) is compared with the text embeddings of a caption bank in
    the same joint space, and the most similar captions describe what was seen.

    Parameters
    ----------
    predicted : array-like of shape (n, n_dims)
        Decoded embeddings.
    bank_embeddings : array-like of shape (n_captions, n_dims)
        Text embeddings of the bank, in the space of ``predicted``.
    bank_captions : sequence of str
        The bank's captions, one per row of ``bank_embeddings``.
    k : int
        Captions returned per prediction.

    Returns
    -------
    pandas.DataFrame
        Columns ``row, rank, bank_index, caption, similarity`` (rank 1 = best).
    """
    k = check_positive_int("k", k)
    if len(bank_captions) != len(bank_embeddings):
        raise DataError(
            f"bank_captions and bank_embeddings must have one row per caption; got "
            f"{len(bank_captions)} captions and {len(bank_embeddings)} embeddings"
        )
    sim = cosine_similarity(predicted, bank_embeddings)
    k = min(k, sim.shape[1])
    top = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(sim.shape[0]), k)
    flat = top.ravel()
    return pd.DataFrame(
        {
            "row": rows,
            "rank": np.tile(np.arange(1, k + 1), sim.shape[0]),
            "bank_index": flat,
            "caption": np.asarray(bank_captions, dtype=object)[flat],
            "similarity": sim[rows, flat],
        }
    )


def caption_retrieval_scores(predicted, bank_embeddings, bank_owner, owners, ks=(1, 5, 10)):
    """Recall@k of each stimulus's own captions among a caption bank, with chance.

    Parameters
    ----------
    predicted : array-like of shape (n, n_dims)
        Decoded embeddings, one per test stimulus.
    bank_embeddings : array-like of shape (n_captions, n_dims)
        Text embeddings of the bank.
    bank_owner : array-like of shape (n_captions,)
        Stimulus id each bank caption belongs to (any value for captions of no
        test stimulus).
    owners : array-like of shape (n,)
        Stimulus id of each prediction.
    ks : sequence of int
        Cut-offs.

    Returns
    -------
    pandas.DataFrame
        Columns ``metric, value, chance``: ``caption_recall@k`` (a prediction
        counts when one of its own captions is among the k nearest) and
        ``caption_median_rank`` (rank of the best own caption, chance: the
        expected rank of the best of the own captions at random).
    """
    from scipy.stats import hypergeom

    sim = cosine_similarity(predicted, bank_embeddings)
    bank_owner = np.asarray(bank_owner)
    owners = np.asarray(owners)
    if len(bank_owner) != sim.shape[1] or len(owners) != sim.shape[0]:
        raise DataError(
            f"Need one owner per bank caption and per prediction; got {len(bank_owner)} "
            f"for {sim.shape[1]} captions and {len(owners)} for {sim.shape[0]} predictions"
        )
    own = bank_owner[None, :] == owners[:, None]
    n_own = own.sum(1)
    if (n_own == 0).any():
        missing = owners[n_own == 0][:5].tolist()
        raise DataError(f"The caption bank has no caption for stimuli {missing}.")
    best_own = np.where(own, sim, -np.inf).max(1)[:, None]
    # rank of the best own caption; other captions that tie with it count against it
    rank = (sim > best_own).sum(1) + ((sim == best_own) & ~own).sum(1) + 1
    m = sim.shape[1]
    rows = []
    for k in ks:
        k = min(check_positive_int("ks", k), m)
        chance = float(np.mean(hypergeom.sf(0, m, n_own, k)))
        rows.append((f"caption_recall@{k}", float(np.mean(rank <= k)), chance))
    chance_rank = float(np.mean((m + 1) / (n_own + 1)))  # expected minimum rank at random
    rows.append(("caption_median_rank", float(np.median(rank)), chance_rank))
    return pd.DataFrame(rows, columns=["metric", "value", "chance"])
