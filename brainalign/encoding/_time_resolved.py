"""Time-resolved encoding and decoding of sensor data (EEG/MEG: channels x times).

Encoding fits one ridge from model features to every channel x time cell at once
(one alpha per cell), so r(t) per channel, the split-half noise ceiling and the
normalised scores come from the same machinery as voxelwise fMRI encoding.

Decoding goes the other way: the channels at one time point (or a sliding window of
time points) are regressed onto a model embedding, and the predicted embedding
identifies the seen stimulus among the candidates (zero-shot identification by
cosine similarity; top-1 / top-5 / pairwise). Labels (e.g. face vs house) are
classified over time with cross-validated scikit-learn classifiers, against a
label-permutation null corrected over time (max statistic and cluster mass).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from brainalign._utils import check_option, check_positive_int
from brainalign.data._sensors import check_sensor_space
from brainalign.encoding._identification import (
    cosine_similarity,
    identification_null,
    identification_scores,
)
from brainalign.encoding._model import EncodingModel
from brainalign.encoding._noise import split_half_ncsnr
from brainalign.encoding._scores import noise_normalized_r2, pearson_r, r2_per_target
from brainalign.exceptions import DataError, ParameterError

#: Classifiers for :func:`classify_over_time`, by name.
CLASSIFIERS = ("lda", "logistic")
SCORINGS = ("roc_auc", "accuracy")


# -- shared helpers -------------------------------------------------------------------
def _feature_rows(features, ids, name="features") -> np.ndarray:
    """Rows of ``features`` for stimulus ids (a FeatureSet joins by id)."""
    if hasattr(features, "align"):
        return np.asarray(features.align(ids), dtype=np.float32)
    raise ParameterError(
        f"Invalid value for {name!r}: expected a FeatureSet (rows joined by stimulus id); "
        f"got {type(features).__name__}. Wrap an array as FeatureSet(array, stimulus_ids)."
    )


def _as_featureset(features, feature_ids):
    """Accept a FeatureSet, or an array plus one stimulus id per row."""
    if hasattr(features, "align"):
        return features
    from brainalign.features import FeatureSet

    if feature_ids is None:
        raise ParameterError(
            "Invalid value for 'feature_ids': an array of features needs one stimulus id "
            "per row (or pass a FeatureSet)."
        )
    return FeatureSet(np.asarray(features, dtype=np.float32), feature_ids)


def _train_test(data, test_ids):
    """Average repetitions and split by stimulus id (default: the canonical test set)."""
    avg = data.average_repetitions()
    return avg.split(test_ids)


def _windows(space, window: int) -> list[tuple[np.ndarray, float, float, float]]:
    """Columns of each sliding window: (columns, centre time, first time, last time)."""
    window = check_positive_int("window", window)
    per_time = space.time_columns()
    present = [k for k, cols in enumerate(per_time) if cols.size]
    if window > len(present):
        raise ParameterError(
            f"Invalid value for 'window': expected at most {len(present)} time points; "
            f"got {window}."
        )
    out = []
    for start in range(len(present) - window + 1):
        ks = present[start : start + window]
        cols = np.concatenate([per_time[k] for k in ks])
        t = space.times[ks]
        out.append((cols, float(t.mean()), float(t[0]), float(t[-1])))
    return out


# -- peak latencies -------------------------------------------------------------------
#: Peak latencies reported by default (topomaps, report, :meth:`TimeResolvedEncoding`).
N_PEAKS = 3
#: A peak stands out from its surroundings by this fraction of the curve's range.
PEAK_PROMINENCE = 0.2
#: A peak rises above the curve's median by this fraction of its range.
PEAK_HEIGHT = 0.3
#: Reported peaks lie at least this far apart, in seconds.
PEAK_SEPARATION = 0.05


def peak_curve(grid) -> np.ndarray:
    """Summarise a channel x time grid by its maximum over channels: the peak curve.

    The one curve whose peaks every figure and table reports (see
    :func:`peak_latencies` for why the maximum and not the mean over channels).
    Cells without a value (NaN) are ignored.

    Parameters
    ----------
    grid : array-like of shape (n_channels, n_times)
        One value per channel and time point (e.g. held-out r).

    Returns
    -------
    ndarray of shape (n_times,)
        Highest value over the channels at each time; NaN where no channel has one.
    """
    grid = np.asarray(grid, dtype=np.float64)
    finite = np.isfinite(grid)
    highest = np.where(finite, grid, -np.inf).max(axis=0, initial=-np.inf)
    return np.where(finite.any(axis=0), highest, np.nan)


def peak_latencies(
    curve,
    times=None,
    n_peaks: int = N_PEAKS,
    prominence: float = PEAK_PROMINENCE,
    height: float = PEAK_HEIGHT,
    min_separation: float = PEAK_SEPARATION,
    chance=None,
) -> list[float]:
    """Latencies of the highest distinct peaks of a curve over time.

    The one definition of a peak latency in brainalign: the run's topomaps, the
    report's encoding and decoding peaks and ``brainalign decode``'s printout all
    call it. With ``chance`` (a chance band: e.g. :func:`r_chance_level` for the
    maximum r over channels, :func:`identification_chance_level` for decoding),
    only time points where the curve exceeds the band can be peaks, so a noise
    wiggle below it is never reported, however it compares with the rest.

    A peak is a local maximum that

    - stands out from its surroundings: its prominence (how far it rises above
      the higher of the two troughs that part it from higher ground) is at least
      ``prominence`` times the curve's range, so a ripple on a slope or on top of
      a peak is not one; and
    - rises above the curve's median (its baseline, when effects are brief) by at
      least ``height`` times the range, so a baseline wiggle between two dips of
      noise, however prominent, is not one either.

    The curve's maximum is always reported, even at the edge of the epoch. Peaks
    are then taken from the highest down, skipping any closer than
    ``min_separation`` to one already taken, until ``n_peaks``.

    Pass the maximum over channels (:func:`peak_curve`) of the channel x time
    scores, as the topomaps, the report and :meth:`TimeResolvedEncoding.peak_latencies`
    do. Of the two obvious summaries it is the more robust one for encoding scores,
    whose effects sit in a few channels:

    - The channel mean shrinks a focal effect (``k`` of ``C`` channels) to ``k / C``
      of its size while its noise falls only by about ``sqrt(C)``, so the range
      comes closer to the noise and a threshold relative to the range lets noise
      through; and it blends effects of different channels that overlap in time
      into a peak where none of them peaks. On the THINGS-EEG2 sample's layer6 fit
      (17 channels; effects in 3-4 channels at 100, 170 and 300 ms) the mean
      peaks at 130 and 320 ms, with baseline wiggles at 710 and 760 ms as
      prominent (0.25 and 0.22 of its range) as its second peak (0.27).
    - The channel maximum keeps each effect at full size at the latency of its
      best channel (180 and 280 ms there, prominences 0.99 and 0.40 of the
      range). Its noise floor is raised, but flat: the maximum of many noisy
      channels fluctuates less than any one of them (baseline SD 0.048 against
      0.069), and its baseline wiggles, up to 0.2 of the range in prominence, rise
      at most 0.14 of it above the median, well under ``height``.

    The mean would win only for an effect spread weakly over all channels.

    Parameters
    ----------
    curve : array-like of shape (n_times,) or pandas.Series
        Values in time order (non-finite values are ignored). A Series may carry
        the times as its index.
    times : array-like of shape (n_times,), optional
        Time of each value in seconds (default: the index of ``curve``).
    n_peaks : int
        Most latencies returned.
    prominence : float
        Least prominence of a peak, as a fraction of the curve's range (0 to 1).
    height : float
        Least rise of a peak above the curve's median, as a fraction of its range
        (0 to 1).
    min_separation : float
        Least distance between two returned latencies, in seconds.
    chance : float or array-like of shape (n_times,), optional
        Chance band (upper limit) of the curve: peaks only where the curve is
        above it (NaN: no limit at that time). Default: no band.

    Returns
    -------
    list of float
        Peak latencies in seconds, in time order (empty when no value is finite
        or none is above ``chance``).

    Raises
    ------
    ParameterError
        If ``times`` does not match ``curve`` or a parameter is out of range.
    """
    from scipy.signal import find_peaks

    values, times = _curve_and_times(curve, times)
    n_peaks = check_positive_int("n_peaks", n_peaks)
    _check_peak_parameters(prominence, height, min_separation)
    finite = np.isfinite(values)
    if not finite.any():
        return []
    level = float(np.median(values[finite]))
    values = np.where(finite, values, np.min(values[finite]))
    span = float(values.max() - values.min())
    found = []
    if span > 0:
        found, _ = find_peaks(values, prominence=prominence * span, height=level + height * span)
    best = int(np.argmax(values))
    ranked = [best] + sorted(set(np.asarray(found).tolist()) - {best}, key=lambda k: -values[k])
    above = finite & _above_band(values, chance)
    chosen: list[float] = []
    for k in (k for k in ranked if above[k]):
        if all(abs(times[k] - t) >= min_separation for t in chosen):
            chosen.append(float(times[k]))
        if len(chosen) == n_peaks:
            break
    return sorted(chosen)


def _above_band(values, chance) -> np.ndarray:
    """Where ``values`` exceed the chance band (everywhere without one; NaN: no limit)."""
    if chance is None:
        return np.ones(values.shape, dtype=bool)
    band = np.broadcast_to(np.asarray(chance, dtype=np.float64), values.shape)
    return np.isnan(band) | (values > band)


def significant_peaks(curve, times=None, chance=None, n_peaks: int = N_PEAKS, **options):
    """Peak latencies above the chance band, with their values: a table.

    Parameters
    ----------
    curve : array-like of shape (n_times,) or pandas.Series
        Values in time order (a Series may carry the times as its index).
    times : array-like of shape (n_times,), optional
        Time of each value in seconds (default: the index of ``curve``).
    chance : float or array-like of shape (n_times,), optional
        Chance band of the curve (see :func:`peak_latencies`).
    n_peaks : int
        Most latencies returned.
    **options
        ``prominence``, ``height``, ``min_separation`` of :func:`peak_latencies`.

    Returns
    -------
    pandas.DataFrame
        ``time, value, band``: one row per peak of :func:`peak_latencies`, in
        time order (``band`` NaN without one).
    """
    values, times = _curve_and_times(curve, times)
    peaks = peak_latencies(values, times, n_peaks=n_peaks, chance=chance, **options)
    index = [int(np.flatnonzero(times == t)[0]) for t in peaks]
    band = np.broadcast_to(np.asarray(np.nan if chance is None else chance, float), values.shape)
    return pd.DataFrame({"time": peaks, "value": values[index], "band": band[index]})


def decoding_peaks(table, keys=("metric",), n_candidates=None, alpha: float = 0.05):
    """Peak of each decoding curve over time among the windows above its chance band.

    The rule of :func:`peak_latencies` (one peak: the highest value above the band).
    The band is the run's own where the table has one (``chance_high`` per window,
    from the shuffles of :func:`decode_over_time`, or a ``significant`` column from a
    permutation null, e.g. of :func:`classify_over_time`), else the family-wise band
    of :func:`identification_chance_level` over the curve's time windows (an
    approximation for tables without a null: it treats the test stimuli as
    independent and is too wide for 2-way scores). Metrics without a known null (e.g.
    ``mean_r``, ranks) have no band: their peak is the highest value.

    Parameters
    ----------
    table : pandas.DataFrame
        ``time, metric, value`` and ``keys``, optionally ``chance`` and
        ``n_candidates`` (or ``n_test``): one row per curve and window.
    keys : sequence of str
        Columns naming one curve (e.g. ROI and metric); must include ``metric``.
    n_candidates : int, optional
        Candidates of the identification, when the table has no such column.
    alpha : float
        Family-wise error rate over each curve's windows.

    Returns
    -------
    pandas.DataFrame
        One row per curve: ``keys``, ``time`` and ``value`` of the peak (NaN when
        no window is above the band), ``chance`` (mean), ``band`` (its highest
        finite value; NaN without a band) and ``n_above`` (windows above the band).
    """
    rows = []
    for key, curve in table.groupby(list(keys), sort=False):
        curve = curve.groupby("time").mean(numeric_only=True).sort_index()
        metric = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))["metric"]
        values = curve["value"].to_numpy(dtype=np.float64)
        band = _decoding_band(curve, metric, _candidates(curve, n_candidates), alpha)
        peak = significant_peaks(values, curve.index, chance=band, n_peaks=1)
        rows.append(
            dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
            | {
                "time": peak["time"].iloc[0] if len(peak) else np.nan,
                "value": peak["value"].iloc[0] if len(peak) else np.nan,
                "chance": curve["chance"].mean() if "chance" in curve else np.nan,
                "band": _highest_finite(band),
                "n_above": np.nan if np.isnan(band).all() else int(_above_band(values, band).sum()),
            }
        )
    return pd.DataFrame(rows)


def _highest_finite(values) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else float("nan")


def _decoding_band(curve, metric, n_candidates, alpha) -> np.ndarray:
    """Band per window: the run's own (``chance_high``, ``significant``), else analytic."""
    if "chance_high" in curve and curve["chance_high"].notna().all():
        return curve["chance_high"].to_numpy(dtype=np.float64)
    if "significant" in curve:  # a mask only: above where significant
        return np.where(curve["significant"].to_numpy(dtype=bool), -np.inf, np.inf)
    if n_candidates is None:
        return np.full(len(curve), np.nan)
    return np.full(len(curve), identification_chance_level(metric, n_candidates, len(curve), alpha))


def _candidates(curve, n_candidates) -> int | None:
    """Candidates of an identification: the table's own column, else the given number."""
    for column in ("n_candidates", "n_test"):
        if column in curve and curve[column].notna().any():
            return int(curve[column].dropna().iloc[0])
    return None if n_candidates is None else int(n_candidates)


def r_chance_level(n_test: int, n_tests: int = 1, alpha: float = 0.05, n_averaged: int = 1):
    """Family-wise chance level of the highest of ``n_tests`` held-out correlations.

    Under no effect a held-out Pearson r over ``n_test`` independent test
    stimuli is, after Fisher's z, about normal with mean 0 and variance
    ``1 / (n_test - 3)`` (``1 / (n_averaged (n_test - 3))`` for the mean over
    ``n_averaged`` independent subjects). The highest of ``n_tests`` such values
    (e.g. channels x time points, for :func:`peak_curve`) exceeds
    ``tanh(z_crit / sqrt(n_averaged (n_test - 3)))`` with probability at most
    ``alpha``, ``z_crit`` the one-sided normal quantile at the Šidák level
    ``1 - (1 - alpha) ** (1 / n_tests)``. Correlated tests (neighbouring
    channels and times) make the band conservative, never too narrow.

    Parameters
    ----------
    n_test : int
        Test stimuli behind each r (at least 4).
    n_tests : int
        Correlations the maximum is taken over.
    alpha : float
        Family-wise error rate (0 to 1).
    n_averaged : int
        Independent subjects averaged into each r.

    Returns
    -------
    float
        The band's upper limit (chance itself is r = 0).

    Raises
    ------
    ParameterError
        If ``n_test`` is below 4 or ``alpha`` is not in (0, 1).
    """
    from scipy import stats

    n_test = check_positive_int("n_test", n_test)
    if n_test < 4:
        raise ParameterError(f"Invalid value for 'n_test': expected at least 4; got {n_test}.")
    alpha = _check_alpha(alpha)
    level = -np.expm1(np.log1p(-alpha) / check_positive_int("n_tests", n_tests))
    z = stats.norm.isf(level) / np.sqrt(check_positive_int("n_averaged", n_averaged) * (n_test - 3))
    return float(np.tanh(z))


#: Metrics of :func:`~brainalign.encoding.identification_scores` with a known null.
IDENTIFICATION_METRICS = ("top1", "top5", "pairwise")


def identification_chance_level(
    metric: str, n_candidates: int, n_tests: int = 1, alpha: float = 0.05
) -> float:
    """Family-wise chance level of the highest of ``n_tests`` identification scores.

    Each of ``n_candidates`` test stimuli is identified among all of them. Under no
    effect a top-k accuracy is a binomial fraction with success probability
    ``k / n_candidates`` (upper quantile of :func:`scipy.stats.binom`); 2-way
    identification averages a per-stimulus score uniform on ``0, 1 / (n - 1), ..., 1``,
    about normal with mean 0.5 and variance ``(n + 1) / (12 (n - 1) n)`` (treating
    the stimuli as independent). The level is Šidák-corrected over ``n_tests``
    (e.g. time windows), one-sided.

    Parameters
    ----------
    metric : str
        ``top1``, ``top5`` (any ``top<k>``) or ``pairwise``; other metrics have no
        band (NaN).
    n_candidates : int
        Test stimuli, each identified among all of them.
    n_tests : int
        Scores the maximum is taken over.
    alpha : float
        Family-wise error rate.

    Returns
    -------
    float
        The band's upper limit; NaN for a metric without a known null.
    """
    from scipy import stats

    n = check_positive_int("n_candidates", n_candidates)
    level = -np.expm1(np.log1p(-_check_alpha(alpha)) / check_positive_int("n_tests", n_tests))
    if metric == "pairwise" and n > 1:
        return float(0.5 + stats.norm.isf(level) * np.sqrt((n + 1) / (12.0 * (n - 1) * n)))
    k = metric[3:] if metric.startswith("top") else ""
    if not k.isdigit():
        return float("nan")
    p = min(1.0, int(k) / n)
    return float(stats.binom.isf(level, n, p) / n)


def _check_peak_parameters(prominence, height, min_separation) -> None:
    if not (0 <= prominence <= 1 and 0 <= height <= 1 and min_separation >= 0):
        raise ParameterError(
            "Invalid value for 'prominence'/'height'/'min_separation': expected two "
            f"fractions in [0, 1] and a distance >= 0; got {prominence!r}, {height!r} "
            f"and {min_separation!r}."
        )


def _curve_and_times(curve, times) -> tuple[np.ndarray, np.ndarray]:
    if times is None:
        if not hasattr(curve, "index"):
            raise ParameterError(
                "Invalid value for 'times': expected one time per value of 'curve' "
                "(or a pandas Series indexed by time); got None."
            )
        times = curve.index
    values = np.asarray(curve, dtype=np.float64).ravel()
    times = np.asarray(times, dtype=np.float64).ravel()
    if times.shape != values.shape:
        raise ParameterError(
            f"Invalid value for 'times': expected {values.size} times (one per value of "
            f"'curve'); got {times.size}."
        )
    return values, times


# -- encoding -------------------------------------------------------------------------
class TimeResolvedEncoding:
    """Held-out scores of a time-resolved encoding model, on the channel x time grid.

    Attributes
    ----------
    estimator : EncodingModel
        The fitted model (one alpha per channel x time cell).
    space : SensorSpace
        Space of the scored columns.
    r, r2, nc, ncr2, alpha : ndarray of shape (n_targets,)
        Held-out Pearson r, R^2, noise ceiling (percent; NaN without repetitions),
        noise-normalised R^2 and chosen alpha per column.
    prediction : ndarray of shape (n_test, n_targets)
        Predicted test responses.
    test : BrainData
        The averaged test responses.
    """

    def __init__(self, estimator, test, prediction, r, r2, nc, ncr2):
        self.estimator = estimator
        self.test = test
        self.space = test.space
        self.prediction = prediction
        self.r, self.r2, self.nc, self.ncr2 = r, r2, nc, ncr2
        self.alpha = np.asarray(estimator.best_alphas_)

    def grid(self, stat: str = "r") -> np.ndarray:
        """Return a statistic on the channel x time grid.

        Parameters
        ----------
        stat : {"r", "r2", "nc", "ncr2", "alpha"}
            Statistic.

        Returns
        -------
        ndarray of shape (n_channels, n_times)
            NaN where no column was scored.
        """
        check_option("stat", stat, ("r", "r2", "nc", "ncr2", "alpha"))
        return self.space.to_array(np.asarray(getattr(self, stat), dtype=np.float64))

    def peak_curve(self, stat: str = "r") -> np.ndarray:
        """Return the maximum of a statistic over channels at each time (:func:`peak_curve`).

        Parameters
        ----------
        stat : str
            Statistic (see :meth:`grid`).

        Returns
        -------
        ndarray of shape (n_times,)
            Highest value over the channels at each time point of ``space.times``.
        """
        return peak_curve(self.grid(stat))

    def peak_chance(self, alpha: float = 0.05) -> float:
        """Return the family-wise chance level of :meth:`peak_curve` of r (:func:`r_chance_level`).

        Parameters
        ----------
        alpha : float
            Family-wise error rate over every scored channel x time cell.

        Returns
        -------
        float
            The r that the highest r over channels and times exceeds by chance
            with probability ``alpha``.
        """
        n_cells = int(np.isfinite(np.asarray(self.r, dtype=np.float64)).sum())
        return r_chance_level(self.test.n_rows, max(1, n_cells), alpha)

    def peak_latencies(
        self, stat: str = "r", n_peaks: int = N_PEAKS, alpha: float | None = 0.05
    ) -> list[float]:
        """Latencies of the peaks of :meth:`peak_curve` (see :func:`peak_latencies`).

        These are the latencies the topomaps and the report show for this fit:
        for r, only where the curve exceeds :meth:`peak_chance`.

        Parameters
        ----------
        stat : str
            Statistic (see :meth:`grid`).
        n_peaks : int
            Most latencies returned.
        alpha : float or None
            Family-wise error rate of the chance band (r only; None: no band).

        Returns
        -------
        list of float
            Latencies in seconds, in time order.
        """
        chance = self.peak_chance(alpha) if stat == "r" and alpha is not None else None
        return peak_latencies(
            self.peak_curve(stat), self.space.times, n_peaks=n_peaks, chance=chance
        )

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per channel x time cell.

        Returns
        -------
        pandas.DataFrame
            ``channel, time, r, r2, nc, ncr2, alpha``.
        """
        return pd.DataFrame(
            {
                "channel": self.space.column_channels.astype(str),
                "time": self.space.column_times,
                "r": self.r,
                "r2": self.r2,
                "nc": self.nc,
                "ncr2": self.ncr2,
                "alpha": self.alpha,
            }
        )

    def __repr__(self) -> str:
        k = int(np.nanargmax(self.r))
        return (
            f"TimeResolvedEncoding(n_channels={self.space.n_channels}, "
            f"n_times={self.space.n_times}, peak r={self.r[k]:.3f} at "
            f"{self.space.column_channels[k]} {self.space.column_times[k]:.3f} s)"
        )


def time_resolved_encoding(
    data,
    features,
    test_ids=None,
    feature_ids=None,
    alphas=None,
    cv=5,
    backend="numpy",
    n_targets_batch=None,
) -> TimeResolvedEncoding:
    """Fit features -> every channel at every time point; score on held-out stimuli.

    One :class:`EncodingModel` (exact K-fold ridge, one alpha per target) covers all
    channel x time targets. Repetitions are averaged after the split-half noise
    ceiling is estimated from the single trials.

    Parameters
    ----------
    data : BrainData
        Sensor data (single trials or averages) with a
        :class:`~brainalign.data.SensorSpace`.
    features : FeatureSet or array-like of shape (n_stimuli, n_features)
        Model features, joined to the data by stimulus id.
    test_ids : array-like, optional
        Held-out stimulus ids (default: the dataset's test set, e.g. the 200
        THINGS-EEG2 test images).
    feature_ids : array-like, optional
        Stimulus id of each feature row, when ``features`` is an array.
    alphas : sequence of float, optional
        Ridge penalties (default: :data:`~brainalign.encoding.DEFAULT_ALPHAS`).
    cv : int or splitter
        Folds for alpha selection.
    backend : {"numpy", "torch", "torch_cuda"}
        Where the ridge runs.
    n_targets_batch : int, optional
        Targets solved at once (bounds memory).

    Returns
    -------
    TimeResolvedEncoding
        Scores per channel x time (``grid("r")`` gives r(t) per channel).
    """
    check_sensor_space(data)
    features = _as_featureset(features, feature_ids)
    if data.ncsnr is None and len(np.unique(data.stimulus_ids)) < data.n_rows:
        try:
            data = data.with_ncsnr(split_half_ncsnr(data))
        except DataError as exc:
            warnings.warn(f"No noise ceiling: {exc}", UserWarning, stacklevel=2)
    train, test = _train_test(data, test_ids)
    est = EncodingModel(alphas=alphas, cv=cv, backend=backend, n_targets_batch=n_targets_batch)
    est.fit(_feature_rows(features, train.stimulus_ids), train.responses)
    pred = est.predict(_feature_rows(features, test.stimulus_ids))
    r = pearson_r(test.responses, pred)
    nc = test.noise_ceiling()
    nc = np.full(test.n_targets, np.nan) if nc is None else nc
    return TimeResolvedEncoding(
        est, test, pred, r, r2_per_target(test.responses, pred), nc, noise_normalized_r2(r, nc)
    )


# -- decoding to a model embedding ----------------------------------------------------
def decode_over_time(
    data,
    features,
    test_ids=None,
    feature_ids=None,
    window=1,
    whole_epoch=True,
    alphas=None,
    cv=5,
    top_k=(1, 5),
    backend="numpy",
    n_permutations: int = 1000,
    alpha: float = 0.05,
    random_state=0,
) -> pd.DataFrame:
    """Decode a model embedding from EEG over time; identify the seen test stimulus.

    At every time point (or sliding window of ``window`` time points), a ridge from
    the channels to every embedding dimension is fitted on the training stimuli
    (repetitions averaged); the predicted test embeddings identify their stimulus
    among all test stimuli by cosine similarity (200-way on THINGS-EEG2).

    Parameters
    ----------
    data : BrainData
        Sensor data with a SensorSpace.
    features : FeatureSet or array-like of shape (n_stimuli, n_dims)
        Target embeddings (e.g. CLIP image embeddings), joined by stimulus id.
    test_ids : array-like, optional
        Held-out stimuli, also the candidate set (default: the dataset's test set).
    feature_ids : array-like, optional
        Stimulus id of each row, when ``features`` is an array.
    window : int
        Time points per sliding window (1: single time points).
    whole_epoch : bool
        Also decode from all channels x times at once (rows with ``scope="epoch"``).
    alphas : sequence of float, optional
        Ridge penalties.
    cv : int or splitter
        Folds for alpha selection.
    top_k : sequence of int
        Top-k accuracies to report.
    backend : {"numpy", "torch", "torch_cuda"}
        Where the ridge runs.
    n_permutations : int
        Shuffles of the test stimuli for the chance band: each window's predictions
        are scored against shuffled stimuli (:func:`~brainalign.encoding.identification_null`),
        the same shuffles in every window.
    alpha : float
        Family-wise error rate of the band over the time windows (max statistic).
    random_state : int
        Seed of the shuffles.

    Returns
    -------
    pandas.DataFrame
        One row per (window, metric): ``scope`` (``"time"`` or ``"epoch"``),
        ``time`` (window centre, s; NaN for the epoch), ``tmin``, ``tmax``,
        ``metric`` (``top1``, ``top5``, ``pairwise``), ``value``, ``chance``
        (expected value without information), ``chance_high`` (the ``1 - alpha``
        quantile of the shuffles' highest score over the time windows: a
        family-wise band; for the epoch, of its own shuffles), ``p_fwe`` (share
        of shuffles whose highest score reaches the value), ``n_candidates``.
        The band is calibrated on the data: identification scores of one test set
        are not independent draws, so binomial bands are far too wide.
    """
    space = check_sensor_space(data)
    features = _as_featureset(features, feature_ids)
    train, test = _train_test(data, test_ids)
    y_train = _feature_rows(features, train.stimulus_ids)
    y_test = _feature_rows(features, test.stimulus_ids)
    jobs = [("time", cols, t, t0, t1) for cols, t, t0, t1 in _windows(space, window)]
    if whole_epoch:
        times = space.column_times
        jobs.append(("epoch", np.arange(space.n_targets), np.nan, times.min(), times.max()))
    n_permutations = check_positive_int("n_permutations", n_permutations)
    alpha = _check_alpha(alpha)
    rng = np.random.default_rng(random_state)
    perms = rng.permuted(np.tile(np.arange(test.n_rows), (n_permutations, 1)), axis=1)
    rows, nulls = [], []
    for scope, cols, t, t0, t1 in jobs:
        est = EncodingModel(alphas=alphas, cv=cv, backend=backend)
        est.fit(train.responses[:, cols], y_train)
        predicted = est.predict(test.responses[:, cols])
        scores = identification_scores(predicted, y_test, top_k)
        nulls.append(identification_null(cosine_similarity(predicted, y_test), perms, top_k))
        for metric, (value, chance) in scores.items():
            rows.append(
                {
                    "scope": scope,
                    "time": t,
                    "tmin": t0,
                    "tmax": t1,
                    "metric": metric,
                    "value": value,
                    "chance": chance,
                    "n_candidates": test.n_rows,
                }
            )
    table = pd.DataFrame(rows)
    return _with_identification_band(table, [j[0] for j in jobs], nulls, alpha)


def _with_identification_band(table, scopes, nulls, alpha) -> pd.DataFrame:
    """Add ``chance_high`` and ``p_fwe`` per row from the shuffles' max over windows."""
    table["chance_high"] = np.nan
    table["p_fwe"] = np.nan
    per_job = len(table) // len(scopes)
    for metric in nulls[0]:
        for scope in dict.fromkeys(scopes):
            jobs = [j for j, s in enumerate(scopes) if s == scope]
            highest = np.max([nulls[j][metric] for j in jobs], axis=0)  # (n_permutations,)
            rows = [j * per_job + list(nulls[0]).index(metric) for j in jobs]
            values = table["value"].to_numpy()[rows]
            table.loc[rows, "chance_high"] = float(np.quantile(highest, 1 - alpha))
            exceed = (highest[None, :] >= values[:, None] - 1e-12).sum(axis=1)
            table.loc[rows, "p_fwe"] = (1 + exceed) / (1 + highest.size)
    return table


def temporal_generalization(
    data,
    features,
    test_ids=None,
    feature_ids=None,
    window=1,
    metric="pairwise",
    alphas=None,
    cv=5,
    backend="numpy",
) -> tuple[np.ndarray, np.ndarray]:
    """Train the embedding decoder at each time, test it at every time.

    Parameters
    ----------
    data : BrainData
        Sensor data with a SensorSpace.
    features : FeatureSet or array-like
        Target embeddings (see :func:`decode_over_time`).
    test_ids, feature_ids, window, alphas, cv, backend
        See :func:`decode_over_time`.
    metric : {"pairwise", "top1", "top5"}
        Identification metric in each cell.

    Returns
    -------
    times : ndarray of shape (n_windows,)
        Window centres (s).
    scores : ndarray of shape (n_windows, n_windows)
        ``scores[i, j]``: trained at ``times[i]``, tested at ``times[j]``.
    """
    check_option("metric", metric, ("pairwise", "top1", "top5"))
    space = check_sensor_space(data)
    features = _as_featureset(features, feature_ids)
    train, test = _train_test(data, test_ids)
    y_train = _feature_rows(features, train.stimulus_ids)
    y_test = _feature_rows(features, test.stimulus_ids)
    windows = _windows(space, window)
    top_k = (int(metric[3:]),) if metric.startswith("top") else ()
    out = np.empty((len(windows), len(windows)))
    for i, (cols, *_) in enumerate(windows):
        est = EncodingModel(alphas=alphas, cv=cv, backend=backend)
        est.fit(train.responses[:, cols], y_train)
        for j, (cols_j, *_) in enumerate(windows):
            pred = est.predict(test.responses[:, cols_j])
            out[i, j] = identification_scores(pred, y_test, top_k)[metric][0]
    return np.array([w[1] for w in windows]), out


# -- classification of a label over time ----------------------------------------------
#: Permutations of the labels behind the chance band of :func:`classify_over_time`.
N_PERMUTATIONS = 200
NULLS = ("permutation", "analytic")


def _classifier(name: str):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "lda":
        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def chance_band(labels, n_tests: int = 1, alpha: float = 0.05, scoring="roc_auc"):
    """Chance level and a two-sided band of a fixed scorer's score under no effect.

    Exact (up to the normal approximation) only for a *fixed* scorer, e.g. one
    trained model's decision values on independent test labels. It is too narrow
    for cross-validated scores pooled over fold classifiers, whose null varies more
    (1.39 times the Mann-Whitney SD on the N170 recording): use the permutation
    null of :func:`classify_over_time` for those.

    ``roc_auc``: the Mann-Whitney null of the AUC,
    ``0.5 +/- z sqrt((n1 + n0 + 1) / (12 n1 n0))``. ``accuracy``: binomial
    quantiles of the fraction correct with success probability equal to the
    majority-class proportion. ``alpha`` is Bonferroni-corrected over ``n_tests``
    (e.g. the number of time points) and split between the two sides.

    Parameters
    ----------
    labels : array-like of shape (n_trials,)
        Class labels (two classes for ``roc_auc``).
    n_tests : int
        Number of scores tested together.
    alpha : float
        Family-wise error rate of the band (both sides together).
    scoring : {"roc_auc", "accuracy"}
        Score.

    Returns
    -------
    chance, low, high : float
        Chance level and band limits.
    """
    from scipy import stats

    check_option("scoring", scoring, SCORINGS)
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    level = alpha / (2 * check_positive_int("n_tests", n_tests))
    if scoring == "roc_auc":
        if counts.size != 2:
            raise DataError(f"ROC AUC needs two classes; got {counts.size}.")
        z = stats.norm.isf(level)
        return 0.5, 0.5 - z * _mann_whitney_sd(counts), 0.5 + z * _mann_whitney_sd(counts)
    n, p = counts.sum(), counts.max() / counts.sum()
    low, high = stats.binom.ppf(level, n, p), stats.binom.isf(level, n, p)
    return float(p), float(low / n), float(high / n)


def _mann_whitney_sd(counts) -> float:
    n1, n0 = counts
    return float(np.sqrt((n1 + n0 + 1) / (12.0 * n1 * n0)))


def classify_over_time(
    data,
    labels=None,
    classifier="lda",
    window=1,
    cv=5,
    scoring="roc_auc",
    alpha=0.05,
    null="permutation",
    n_permutations=N_PERMUTATIONS,
    random_state=0,
) -> pd.DataFrame:
    """Cross-validated classification of a trial label at every time point.

    The score of a window pools the out-of-fold predictions of the fold
    classifiers. Its chance band comes by default from a permutation null: the
    labels are shuffled ``n_permutations`` times and every shuffle is scored as
    the real labels are (the same splitter applied to the shuffled labels, so
    stratified folds stay stratified; the same classifier and scoring), giving a
    null curve over time per shuffle. The band and ``p_fwe`` use the maximum (minimum) of
    each null curve over the windows, so they hold family-wise over time whatever
    the correlation between windows. Clusters are runs of contiguous windows with
    ``p <= alpha``; a cluster's mass (the sum of ``score - chance`` over it) is
    compared with the largest cluster mass of each null curve.

    Parameters
    ----------
    data : BrainData
        Single-trial sensor data.
    labels : array-like of shape (n_rows,), optional
        Label of each trial (default: the stimulus ids, e.g. ``"face"``/``"house"``
        for the N170 recordings).
    classifier : {"lda", "logistic"} or scikit-learn classifier
        Shrinkage LDA (Ledoit-Wolf), standardised logistic regression, or any
        classifier with ``decision_function``. Two-class ``"lda"`` is refitted for
        all permutations at once (vectorised, identical to scikit-learn's); any
        other classifier is refitted once per permutation, fold and window (slow:
        lower ``n_permutations``).
    window : int
        Time points per sliding window.
    cv : int or splitter
        Stratified K-fold (shuffled with ``random_state``) or a splitter.
    scoring : {"roc_auc", "accuracy"}
        Score of the pooled out-of-fold predictions.
    alpha : float
        Family-wise error rate of each side of the band, of ``significant`` and
        of ``significant_cluster``; also the per-window level forming clusters.
    null : {"permutation", "analytic"}
        Null distribution of the score: label permutations (default), or the
        fixed-scorer band of :func:`chance_band` (Bonferroni over the windows;
        too narrow for pooled cross-validated scores, kept for comparison).
    n_permutations : int
        Label shuffles of the permutation null (at least ``1 / alpha - 1``).
    random_state : int
        Seed of the fold assignment and of the permutations.

    Returns
    -------
    pandas.DataFrame
        One row per window, in time order:

        - ``time``, ``tmin``, ``tmax``: window centre, first and last time (s).
        - ``score``: cross-validated score with the real labels.
        - ``chance``: mean null score of the window (0.5 AUC in theory).
        - ``chance_low``, ``chance_high``: under no effect, the score of *any*
          window falls below ``chance_low`` (rises above ``chance_high``) with
          probability at most ``alpha``.
        - ``p``: chance that a null score of this window reaches ``score``
          (uncorrected, one-sided).
        - ``p_fwe``: chance that the highest null score over all windows reaches
          ``score`` (family-wise corrected over time, one-sided).
        - ``significant``: ``score > chance_high`` (equivalently ``p_fwe <= alpha``).
        - ``cluster``: 1, 2, ... numbering the runs of windows with ``p <= alpha``;
          0 outside them.
        - ``p_cluster``: chance that the largest null cluster mass reaches that of
          this window's cluster (NaN outside clusters).
        - ``significant_cluster``: in a cluster with ``p_cluster <= alpha``.
        - ``n_trials``, ``n_permutations`` (0 for the analytic null).

        The analytic null gives normal (binomial) ``p``, Bonferroni ``p_fwe`` and
        no clusters. :func:`onset_time` reads the onset off the table.

    Raises
    ------
    ParameterError
        If ``labels``, ``classifier``, ``scoring``, ``alpha``, ``null`` or
        ``n_permutations`` is invalid.
    """
    space = check_sensor_space(data)
    check_option("scoring", scoring, SCORINGS)
    check_option("null", null, NULLS)
    alpha = _check_alpha(alpha)
    y = np.asarray(data.stimulus_ids if labels is None else labels)
    if y.shape != (data.n_rows,):
        raise ParameterError(
            f"Invalid value for 'labels': expected one label per trial ({data.n_rows}); "
            f"got shape {y.shape}."
        )
    fast = isinstance(classifier, str) and classifier == "lda" and np.unique(y).size == 2
    if isinstance(classifier, str):
        check_option("classifier", classifier, CLASSIFIERS)
        classifier = _classifier(classifier)
    classes, codes = np.unique(y, return_inverse=True)
    n_perm = 0 if null == "analytic" else _check_n_permutations(n_permutations, alpha)
    codes = _label_matrix(codes, n_perm, random_state)
    folds = _fold_matrix(codes, cv, random_state)
    windows = _windows(space, window)
    scores = _window_scores(data, windows, codes, classes, folds, classifier, scoring, fast)
    table = pd.DataFrame(
        {
            "time": [w[1] for w in windows],
            "tmin": [w[2] for w in windows],
            "tmax": [w[3] for w in windows],
            "score": scores[0],
        }
    )
    stats = _analytic_null(scores[0], y, alpha, scoring) if not n_perm else _max_stat(scores, alpha)
    for name, values in stats.items():
        table[name] = values
    table["n_trials"] = len(y)
    table["n_permutations"] = n_perm
    return table


def _window_scores(data, windows, codes, classes, folds, classifier, scoring, fast):
    """Scores (n_rows of codes, n_windows): row 0 the real labels, then the shuffles."""
    from threadpoolctl import threadpool_limits

    scores = np.empty((codes.shape[0], len(windows)))
    with threadpool_limits(1, user_api="blas"):  # threads only slow these thin products
        for k, (cols, *_) in enumerate(windows):
            X = np.asarray(data.responses[:, cols])
            if fast:
                out = _lda_decisions(X, codes, folds)
                out = out if scoring == "roc_auc" else (out > 0).astype(int)
            else:
                out = _refit_predictions(X, codes, classes, folds, classifier, scoring)
            scores[:, k] = _batch_scores(codes, out, scoring)
    return scores


def _check_alpha(alpha) -> float:
    if not (isinstance(alpha, (int, float, np.floating)) and 0 < alpha < 1):
        raise ParameterError(
            f"Invalid value for 'alpha': expected a level between 0 and 1; got {alpha!r}."
        )
    return float(alpha)


def _check_n_permutations(n_permutations, alpha) -> int:
    n = check_positive_int("n_permutations", n_permutations)
    if int(np.floor(alpha * (n + 1) + 1e-9)) < 1:
        raise ParameterError(
            f"Invalid value for 'n_permutations': expected at least "
            f"{int(np.ceil(1 / alpha - 1))} permutations for alpha={alpha}; got {n}."
        )
    return n


def _fold_matrix(codes, cv, random_state) -> np.ndarray:
    """Test fold of every trial (n_rows, n_trials): the splitter applied to each label row.

    Splitting each shuffle as the real labels are split keeps the permutations
    exchangeable with the real labels (a stratified split stays stratified).
    """
    if isinstance(cv, (int, np.integer)):
        return _stratified_folds(codes, cv, random_state)
    folds = np.full(codes.shape, -1)
    for row, code in enumerate(codes):
        for k, (_, te) in enumerate(cv.split(np.zeros(code.size), code)):
            if (folds[row, te] >= 0).any():
                raise ParameterError(
                    "Invalid value for 'cv': expected test folds that partition the "
                    f"trials (each trial tested once); got {cv!r}."
                )
            folds[row, te] = k
    if (folds < 0).any():
        raise ParameterError(
            f"Invalid value for 'cv': expected test folds covering every trial; got {cv!r}."
        )
    return folds


def _stratified_folds(codes, n_splits, random_state) -> np.ndarray:
    """Test folds of ``StratifiedKFold(n_splits, shuffle=True, random_state)``, per row.

    The same assignment as scikit-learn's, computed without its per-call overhead:
    the trials of each class, in index order, receive a shuffled fold pattern that
    depends only on the class counts (classes ordered by first appearance).
    """
    counts = np.bincount(codes[0])
    if not 2 <= n_splits <= counts.max():
        raise ParameterError(
            f"Invalid value for 'cv': expected 2 to {counts.max()} folds (the size of "
            f"the largest class); got {n_splits}."
        )
    patterns: dict[tuple, np.ndarray] = {}
    folds = np.empty(codes.shape, dtype=int)
    for row, code in enumerate(codes):
        _, first = np.unique(code, return_index=True)
        encoded = np.argsort(np.argsort(first))[code]
        key = tuple(np.bincount(encoded))
        if key not in patterns:
            patterns[key] = _fold_pattern(np.asarray(key), n_splits, random_state)
        folds[row, np.argsort(encoded, kind="stable")] = patterns[key]
    return folds


def _fold_pattern(counts, n_splits, random_state) -> np.ndarray:
    """Folds of the trials sorted by class, as scikit-learn's StratifiedKFold draws them."""
    rng = np.random.RandomState(random_state)
    order = np.repeat(np.arange(counts.size), counts)
    allocation = np.array(
        [np.bincount(order[i::n_splits], minlength=counts.size) for i in range(n_splits)]
    )
    pattern = []
    for k in range(counts.size):
        folds = np.arange(n_splits).repeat(allocation[:, k])
        rng.shuffle(folds)
        pattern.append(folds)
    return np.concatenate(pattern)


def _label_matrix(codes, n_permutations: int, random_state) -> np.ndarray:
    """Class codes: the real ones in row 0, then one shuffle per row."""
    rng = np.random.default_rng(random_state)
    rows = [codes] + [rng.permutation(codes) for _ in range(n_permutations)]
    return np.stack(rows)


def _refit_predictions(X, codes, classes, folds, classifier, scoring) -> np.ndarray:
    """Out-of-fold decision values (or predicted codes) of any classifier, per row."""
    from sklearn.base import clone

    out = np.empty(codes.shape, dtype=float if scoring == "roc_auc" else int)
    for row, code in enumerate(codes):
        labels = classes[code]
        for k in np.unique(folds[row]):
            tr, te = folds[row] != k, folds[row] == k
            est = clone(classifier).fit(X[tr], labels[tr])
            if scoring == "roc_auc":
                _check_two_classes(est.classes_)
                out[row, te] = est.decision_function(X[te])
            else:
                out[row, te] = np.searchsorted(classes, est.predict(X[te]))
    return out


def _check_two_classes(classes) -> None:
    if len(classes) != 2:
        raise DataError(f"ROC AUC needs two classes; got {len(classes)}: {list(classes)}.")


def _batch_scores(codes, out, scoring) -> np.ndarray:
    """Score of every row of pooled out-of-fold predictions (AUC from ranks)."""
    from scipy.stats import rankdata

    if scoring == "accuracy":
        return np.mean(out == codes, axis=1)
    positive = codes == 1
    n1 = positive[0].sum()
    n0 = codes.shape[1] - n1
    _check_two_classes(np.unique(codes[0]))
    order = np.argsort(out, axis=1)
    if (np.diff(np.take_along_axis(out, order, axis=1), axis=1) == 0).any():
        ranks = rankdata(out, axis=1)  # ties: average ranks, as roc_auc_score
    else:
        ranks = np.empty(out.shape)
        np.put_along_axis(ranks, order, np.arange(1.0, out.shape[1] + 1), axis=1)
    return ((ranks * positive).sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)


# -- vectorised shrinkage LDA ---------------------------------------------------------
def _lda_decisions(X, codes, folds) -> np.ndarray:
    """Out-of-fold LDA decision values for every row of class codes at once.

    Reproduces scikit-learn's ``LinearDiscriminantAnalysis(solver="lsqr",
    shrinkage="auto")`` (Ledoit-Wolf shrinkage of each class's standardised
    covariance, prior-weighted pooling), batched over the label rows; ``folds``
    gives the test fold of every trial in each row. The decision function is
    invariant to an affine rescaling of each feature, so the features are
    standardised first for numerical stability.
    """
    X = np.asarray(X, dtype=np.float64)
    sd = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    outer = (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], -1)
    out = np.empty(codes.shape)
    for k in np.unique(folds):
        test = folds == k
        coef, intercept = _lda_fit(X, outer, np.where(test, -1, codes))
        out[test] = (coef @ X.T + intercept[:, None])[test]
    return out


def _lda_fit(X, outer, codes) -> tuple[np.ndarray, np.ndarray]:
    """Two-class LDA weights (n_rows, n_features) and intercepts per label row.

    ``codes`` is 0 or 1 for the training trials of a row, -1 for the others;
    ``outer`` holds the products ``x x^T`` of every trial, flattened.
    """
    n = (codes >= 0).sum(axis=1)
    cov, means, priors = 0.0, [], []
    for g in (0, 1):
        mask = (codes == g).astype(np.float64)
        mean, shrunk = _shrunk_class_cov(X, outer, mask)
        prior = mask.sum(axis=1) / n
        cov = cov + prior[:, None, None] * shrunk
        means.append(mean)
        priors.append(prior)
    solved = np.linalg.solve(cov, np.stack(means, axis=2))  # (rows, F, 2)
    coef = solved[:, :, 1] - solved[:, :, 0]
    quad = np.einsum("rfg,rfg->rg", np.stack(means, axis=2), solved)
    intercept = -0.5 * (quad[:, 1] - quad[:, 0]) + np.log(priors[1] / priors[0])
    return coef, intercept


def _shrunk_class_cov(X, outer, mask) -> tuple[np.ndarray, np.ndarray]:
    """Class means and Ledoit-Wolf covariances (as sklearn's ``_cov``), per mask row."""
    n_features = X.shape[1]
    count = mask.sum(axis=1)
    mean = mask @ X / count[:, None]
    cov = (mask @ outer).reshape(-1, n_features, n_features) / count[:, None, None]
    cov -= mean[:, :, None] * mean[:, None, :]
    var = np.diagonal(cov, axis1=1, axis2=2)
    scale2 = np.where(var > 1e-12, var, 1.0)  # sklearn keeps constant features unscaled
    if n_features == 1:
        return mean, cov
    corr = cov / np.sqrt(scale2[:, :, None] * scale2[:, None, :])
    trace = var / scale2  # diagonal of the standardised covariance
    mu = trace.sum(axis=1) / n_features
    dist = (X**2) @ (1 / scale2).T - 2 * X @ (mean / scale2).T + (mean**2 / scale2).sum(1)
    beta_ = (mask * dist.T**2).sum(axis=1)
    delta_ = (corr**2).sum(axis=(1, 2))
    beta = (beta_ / count - delta_) / (n_features * count)
    delta = (delta_ - 2 * mu * trace.sum(axis=1) + n_features * mu**2) / n_features
    beta = np.minimum(beta, delta)
    shrink = np.divide(beta, delta, out=np.zeros_like(beta), where=beta != 0)
    eye = np.eye(n_features)
    shrunk = (1 - shrink)[:, None, None] * cov + (shrink * mu)[:, None, None] * (
        scale2[:, :, None] * eye
    )
    return mean, shrunk


# -- null distributions over time -----------------------------------------------------
def _max_stat(scores, alpha) -> dict[str, np.ndarray]:
    """Band, p values and clusters from the permutation null (rows 1: of ``scores``)."""
    observed, null = scores[0], scores[1:]
    n_perm = null.shape[0]
    k = int(np.floor(alpha * (n_perm + 1) + 1e-9))  # score > k-th largest <=> p <= alpha
    high = np.sort(null.max(axis=1))[::-1][k - 1]
    low = np.sort(null.min(axis=1))[k - 1]
    p = (1 + (null >= observed).sum(axis=0)) / (n_perm + 1)
    p_fwe = (1 + (null.max(axis=1)[:, None] >= observed).sum(axis=0)) / (n_perm + 1)
    chance = null.mean(axis=0)
    threshold = np.sort(null, axis=0)[::-1][k - 1]  # per window: score > it <=> p <= alpha
    labels = _runs(observed > threshold)
    null_mass = np.array(
        [_cluster_masses(curve, _runs(curve > threshold), chance).max(initial=0) for curve in null]
    )
    mass = _cluster_masses(observed, labels, chance)
    p_of = (1 + (null_mass[:, None] >= mass).sum(axis=0)) / (n_perm + 1)
    p_cluster = np.append(p_of, np.nan)[labels - 1]  # label 0 (no cluster) -> NaN
    return {
        "chance": chance,
        "chance_low": np.full(observed.shape, low),
        "chance_high": np.full(observed.shape, high),
        "p": p,
        "p_fwe": p_fwe,
        "significant": observed > high,
        "cluster": labels,
        "p_cluster": p_cluster,
        "significant_cluster": p_cluster <= alpha,
    }


def _runs(mask) -> np.ndarray:
    """Label the runs of True in ``mask`` 1, 2, ...; 0 elsewhere."""
    mask = np.asarray(mask, dtype=bool)
    starts = mask & ~np.concatenate([[False], mask[:-1]])
    return np.where(mask, np.cumsum(starts), 0)


def _cluster_masses(curve, labels, chance) -> np.ndarray:
    """Sum of ``curve - chance`` over each run (index 0: run 1)."""
    return np.bincount(labels, weights=curve - chance, minlength=1)[1:]


def _analytic_null(observed, y, alpha, scoring) -> dict[str, np.ndarray]:
    """Fixed-scorer band of :func:`chance_band`, Bonferroni over the windows."""
    from scipy import stats

    n = observed.size
    chance, low, high = chance_band(y, n, 2 * alpha, scoring)
    _, counts = np.unique(y, return_counts=True)
    if scoring == "roc_auc":
        p = stats.norm.sf((observed - 0.5) / _mann_whitney_sd(counts))
    else:
        p = stats.binom.sf(np.round(observed * len(y)) - 1, len(y), chance)
    return {
        "chance": np.full(n, chance),
        "chance_low": np.full(n, low),
        "chance_high": np.full(n, high),
        "p": p,
        "p_fwe": np.minimum(1.0, p * n),
        "significant": observed > high,
        "cluster": np.zeros(n, dtype=int),
        "p_cluster": np.full(n, np.nan),
        "significant_cluster": np.zeros(n, dtype=bool),
    }


def onset_time(table, column: str = "significant", min_windows: int = 1) -> float:
    """Onset of a significant effect: the first time of the first significant run.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`classify_over_time` (rows in time order).
    column : {"significant", "significant_cluster"}
        Which claim: windows above the max-statistic band, or windows of clusters
        whose mass beats the null (the onset of a cluster is only as precise as
        the cluster-forming threshold lets it be).
    min_windows : int
        Least number of contiguous significant windows of the run.

    Returns
    -------
    float
        ``time`` of the run's first window (s); NaN when there is none.
    """
    check_option("column", column, ("significant", "significant_cluster"))
    min_windows = check_positive_int("min_windows", min_windows)
    labels = _runs(table[column].to_numpy(dtype=bool))
    lengths = np.bincount(labels)[1:]
    long = np.flatnonzero(lengths >= min_windows)
    if not long.size:
        return float("nan")
    return float(table["time"].to_numpy()[np.argmax(labels == long[0] + 1)])
