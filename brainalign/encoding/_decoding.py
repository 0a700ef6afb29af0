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


#: Random re-pairings of predictions with other stimuli averaged in the chance of a median.
N_NULL_DRAWS = 2000


def caption_retrieval_scores(
    predicted, bank_embeddings, bank_owner, owners, ks=(1, 5, 10), n_null=N_NULL_DRAWS, seed=0
):
    """Recall@k and median rank of each stimulus's own captions in a bank, with chance.

    Every prediction ranks the whole bank by cosine; the rank of a stimulus's
    captions is that of its best own caption, with other captions that tie with it
    counted against it. Chance is the same ranking procedure under the null of a
    decoder that carries nothing specific to the stimulus: stimulus ``i``'s captions
    ranked by the prediction of another stimulus ``j`` (every pair ``j != i`` with a
    different owner). This null keeps the bank as it is: ties, the number of
    captions of each stimulus, and how alike the captions of one stimulus are (its
    captions cluster, so they are not at independent random positions).

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
        Stimulus id of each prediction (at least two distinct ids).
    ks : sequence of int
        Cut-offs.
    n_null : int
        Random re-pairings averaged for the chance of the median rank.
    seed : int
        Seed of the re-pairings.

    Returns
    -------
    pandas.DataFrame
        Columns ``metric, value, chance``: ``caption_recall@k`` (a prediction
        counts when one of its own captions is among the k nearest; chance: its
        exact mean over the mismatched pairs) and ``caption_median_rank`` (median
        over predictions of the rank of the best own caption; chance: the mean of
        that median over ``n_null`` random re-pairings, each stimulus with the
        prediction of another stimulus drawn at random).
    """
    n_null = check_positive_int("n_null", n_null)
    ranks, code = _caption_rank_matrix(predicted, bank_embeddings, bank_owner, owners)
    n, m = ranks.shape[0], np.asarray(bank_owner).size
    rank = ranks[np.arange(n), code]  # each prediction and its own stimulus
    valid = code[None, :] != code[:, None]  # (prediction j, stimulus of prediction i)
    if not valid.any():
        raise DataError(
            f"Caption retrieval needs predictions of at least 2 stimuli for its chance; "
            f"got {n} prediction(s) of one stimulus."
        )
    null = ranks[:, code]  # null[j, i]: stimulus i's captions ranked by prediction j
    weight = valid / valid.sum(0, keepdims=True)  # uniform over the other stimuli's j
    rows = []
    for k in ks:
        k = min(check_positive_int("ks", k), m)
        chance = float(np.mean(((null <= k) * weight).sum(0)))
        rows.append((f"caption_recall@{k}", float(np.mean(rank <= k)), chance))
    draws = _null_pairings(valid, n_null, seed)  # (n_null, n) prediction per stimulus
    chance_rank = float(np.mean(np.median(null[draws, np.arange(n)], axis=1)))
    rows.append(("caption_median_rank", float(np.median(rank)), chance_rank))
    return pd.DataFrame(rows, columns=["metric", "value", "chance"])


def _caption_rank_matrix(predicted, bank_embeddings, bank_owner, owners, chunk=256):
    """Rank of every stimulus's best caption under every prediction.

    Returns ``ranks`` of shape (n_predictions, n_stimuli), 1 = best, ties with
    other captions counted against the stimulus, and the stimulus code of each
    prediction.
    """
    sim = cosine_similarity(predicted, bank_embeddings)
    bank_owner, owners = np.asarray(bank_owner), np.asarray(owners)
    if len(bank_owner) != sim.shape[1] or len(owners) != sim.shape[0]:
        raise DataError(
            f"Need one owner per bank caption and per prediction; got {len(bank_owner)} "
            f"for {sim.shape[1]} captions and {len(owners)} for {sim.shape[0]} predictions"
        )
    stimuli, code = np.unique(owners, return_inverse=True)
    has_own = np.isin(stimuli, bank_owner)
    if not has_own.all():
        raise DataError(f"The caption bank has no caption for stimuli {stimuli[~has_own][:5]}.")
    # the captions of the test stimuli, grouped by stimulus
    cap_code = np.full(len(bank_owner), -1)
    known = np.isin(bank_owner, stimuli)
    cap_code[known] = np.searchsorted(stimuli, bank_owner[known])
    order = np.argsort(cap_code, kind="stable")[np.count_nonzero(~known) :]
    starts = np.searchsorted(cap_code[order], np.arange(len(stimuli)))
    ranks = np.empty((sim.shape[0], len(stimuli)), dtype=np.int64)
    for lo in range(0, sim.shape[0], chunk):
        block = sim[lo : lo + chunk]
        own = block[:, order]
        best = np.maximum.reduceat(own, starts, axis=1)  # (rows, stimuli)
        tied_own = np.add.reduceat(own == best[:, cap_code[order]], starts, axis=1)
        ordered = np.sort(block, axis=1)
        for r in range(block.shape[0]):
            at_least = sim.shape[1] - np.searchsorted(ordered[r], best[r], side="left")
            ranks[lo + r] = at_least - tied_own[r] + 1
    return ranks, code.ravel()


def _null_pairings(valid, n_draws, seed) -> np.ndarray:
    """For each draw and stimulus ``i``, a random prediction ``j`` with ``valid[j, i]``."""
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(valid, axis=0)  # (n, n)
    counts = cumulative[-1]
    pick = (rng.random((n_draws, valid.shape[1])) * counts).astype(np.int64)
    return np.stack(
        [np.searchsorted(cumulative[:, i], pick[:, i], side="right") for i in range(len(counts))],
        axis=1,
    )
