"""Simple anomaly detectors to compare against, with :class:`tsrnn.AnomalyDetector`'s API.

A recurrent detector earns its place only where it beats these. Each one takes
the same frames, column roles and ``fit`` / ``decision_function`` / ``predict``
calls as :class:`~tsrnn.AnomalyDetector` and follows PyOD's vocabulary: higher
scores are more anomalous, ``decision_scores_``, ``threshold_`` (from
``contamination``) and ``labels_`` describe the training rows, and ``predict``
gives 1 for an anomaly.

- :class:`ZScoreDetector`: the sum over features of each value's distance from
  its training mean, in training standard deviations. Catches level shifts and
  values far from normal; the classic control-chart score.
- :class:`DiffDetector`: the absolute first difference, per feature in units of
  the training differences' spread, summed. Catches spikes and jumps.
- :class:`RollingZScoreDetector`: distance from the mean of the previous
  ``window`` steps, in their standard deviations. Adapts to a moving level.
- :class:`IsolationForestDetector`: scikit-learn's Isolation Forest on each row
  of standardized values.
- :class:`PCADetector`: principal components of the standardized training rows;
  the score adds Hotelling's T² (distance inside the principal subspace) and the
  Q statistic (squared residual outside it), each in units of its training mean.
  With PCA T²+Q, the SKAB leaderboard's classic multivariate baseline.

Every baseline scores a row from that row and the rows before it only, so its
scores are online as they are (``online`` is accepted for a like-for-like call
and changes nothing). Statistics are learnt per series; a series unseen at fit
is standardized by its own rows, as :class:`~tsrnn.AnomalyDetector` does.
"""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from tsrnn.base import SeriesEstimator, in_frame_order, index_of
from tsrnn.data import DataError, Scaler, SeriesData
from tsrnn.thresholds import quantile_threshold

__all__ = [
    "BaselineDetector",
    "DiffDetector",
    "IsolationForestDetector",
    "PCADetector",
    "RollingZScoreDetector",
    "ZScoreDetector",
]


def _is_real(value) -> bool:
    """A real number (numpy's too), and not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class BaselineDetector(SeriesEstimator):
    """Shared by the baselines: reading frames, thresholds and labels.

    Subclasses set ``_min_rows`` (the fewest training rows a series needs) and
    implement ``_learn(data, scaled)`` (fit on the standardized training rows)
    and ``_raw(data, scaled) -> [N]`` (a score per stacked row).
    """

    _min_rows = 2
    scaler = "standard"  # every baseline standardizes per series

    def fit(self, df: pd.DataFrame, *, target: Hashable | Sequence[Hashable] | None = None,
            time_col: Hashable | None = None, id_col: Hashable | None = None):
        """Learn normal behaviour from ``df`` (column roles as for
        :meth:`tsrnn.AnomalyDetector.fit`); sets ``decision_scores_``,
        ``threshold_`` and ``labels_``."""
        self._check_params()
        self._forget()
        data = SeriesData.from_dataframe(df, time_col=time_col, id_col=id_col, target=target,
                                         fill=self.fill, resample=self.resample)
        short = np.flatnonzero(data.lengths < self._min_rows)
        if len(short):
            raise DataError(f"{data.series_name(int(short[0]))} has "
                            f"{data.lengths[short[0]]} rows; {type(self).__name__} needs "
                            f"at least {self._min_rows} to learn from")
        self._remember(data, Scaler("standard").fit(data.values, data.offsets))
        scaled = self._scaled(data)
        self._learn(data, scaled)
        self.decision_scores_ = in_frame_order(self._raw(data, scaled), data)
        self.threshold_ = quantile_threshold(self.decision_scores_, self.contamination)
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)
        return self

    def _check_params(self) -> None:
        if not (_is_real(self.contamination)
                and 0.0 < self.contamination < 0.5):
            raise ValueError(f"contamination must be in (0, 0.5), got {self.contamination!r}")

    def decision_function(self, df: pd.DataFrame, *, online: bool = False) -> pd.Series:
        """Anomaly score of every row of ``df`` (higher: more anomalous), aligned to
        its index. ``online`` changes nothing: the scores use no later rows."""
        check_is_fitted(self, "threshold_")
        data = self._read(df)
        scaled = self._scaled(data)
        with np.errstate(invalid="ignore"):  # (inf - inf: set right below)
            raw = self._raw(data, scaled)
        # A value so far from its series' scale that the scaled one overflows
        # float32 (3.4e38, a sensor's fault code): PCA's inf - inf made its score
        # NaN, which no threshold flags.
        overflow = np.isinf(scaled[:, :data.n_targets]).any(axis=1) & np.isnan(raw)
        raw[overflow] = np.inf
        scores = in_frame_order(raw, data)
        return pd.Series(scores, index=index_of(df, data), name="score")

    def predict(self, df: pd.DataFrame, *, online: bool = False) -> pd.Series:
        """0/1 labels (1: anomaly) of every row, from :meth:`decision_function`."""
        scores = self.decision_function(df, online=online)
        return (scores > self.threshold_).astype(np.int64).rename("label")

    def save(self, path) -> None:
        raise NotImplementedError(
            f"{type(self).__name__} has no model file: it refits in seconds; pickle it "
            "(trusted use only) or fit it again")

    @classmethod
    def load(cls, path):
        raise NotImplementedError(f"{cls.__name__} has no model file; fit it again")

    def _per_series(self, data: SeriesData, scaled: np.ndarray, fn) -> np.ndarray:
        """``fn(x [T, F]) -> [T]`` applied to each series' scaled rows, stacked."""
        out = np.zeros(len(scaled))
        for a, b in zip(data.offsets[:-1], data.offsets[1:], strict=True):
            out[a:b] = fn(scaled[a:b, :data.n_targets].astype(np.float64))
        return out

    def _learn(self, data: SeriesData, scaled: np.ndarray) -> None:
        """Nothing more to learn than the per-series scaling."""


class ZScoreDetector(BaselineDetector):
    """Per-feature z-score sum: ``sum_f |x_f - mean_f| / std_f`` with each series'
    training mean and standard deviation.

    Parameters
    ----------
    contamination
        Expected fraction of anomalies: ``threshold_`` is the training scores'
        ``1 - contamination`` quantile.
    fill, resample
        As for :class:`tsrnn.AnomalyDetector`.
    """

    def __init__(self, *, contamination: float = 0.01, fill: str | None = None,
                 resample: bool = False):
        self.contamination = contamination
        self.fill = fill
        self.resample = resample

    def _raw(self, data, scaled):
        return self._per_series(data, scaled, lambda x: np.abs(x).sum(axis=1))


class DiffDetector(BaselineDetector):
    """Absolute first difference: ``sum_f |x_f[t] - x_f[t-1]| / s_f``, where ``s_f`` is
    the standard deviation of the series' training differences (the first row of
    a series scores 0).

    Parameters
    ----------
    contamination, fill, resample
        As for :class:`ZScoreDetector`.
    """

    _min_rows = 3

    def __init__(self, *, contamination: float = 0.01, fill: str | None = None,
                 resample: bool = False):
        self.contamination = contamination
        self.fill = fill
        self.resample = resample

    def _learn(self, data, scaled):
        spreads = [np.diff(scaled[a:b, :data.n_targets], axis=0).std(axis=0)
                   for a, b in zip(data.offsets[:-1], data.offsets[1:], strict=True)]
        self.diff_spread_ = np.maximum(np.array(spreads, dtype=np.float64), 1e-12)  # [S, F]

    def _raw(self, data, scaled):
        known = self._series_positions()
        out = np.zeros(len(scaled))
        for sid, a, b in zip(data.ids, data.offsets[:-1], data.offsets[1:], strict=True):
            d = np.diff(scaled[a:b, :data.n_targets].astype(np.float64), axis=0)
            spread = (self.diff_spread_[known[sid]] if sid in known
                      else np.maximum(d.std(axis=0), 1e-12))  # of the signed differences
            out[a + 1:b] = (np.abs(d) / spread).sum(axis=1)
        return out


class RollingZScoreDetector(BaselineDetector):
    """Rolling z-score: ``sum_f |x_f[t] - m_f| / s_f``, with ``m`` and ``s`` the mean
    and standard deviation of the previous ``window`` steps (causal). Steps with
    fewer than 10 earlier steps, or a constant past, score 0.

    Parameters
    ----------
    window
        Steps of history, at least 10 (288: a day of 5-minute data).
    contamination, fill, resample
        As for :class:`ZScoreDetector`.
    """

    def __init__(self, window: int = 288, *, contamination: float = 0.01,
                 fill: str | None = None, resample: bool = False):
        self.window = window
        self.contamination = contamination
        self.fill = fill
        self.resample = resample

    def _check_params(self):
        super()._check_params()
        # A step needs 10 earlier ones to score: a shorter window would never score.
        self._check_integer("window", 10)

    def _raw(self, data, scaled):
        def score(x):
            frame = pd.DataFrame(x)
            past = frame.shift(1).rolling(self.window, min_periods=10)
            z = (frame - past.mean()).abs() / past.std().where(lambda s: s > 0)
            return z.fillna(0.0).to_numpy().sum(axis=1)

        return self._per_series(data, scaled, score)


class IsolationForestDetector(BaselineDetector):
    """Isolation Forest (scikit-learn) over the standardized rows of every series:
    one forest for all series; the score is the mean path length's anomaly
    score, ``-score_samples``.

    Parameters
    ----------
    n_estimators
        Trees.
    random_state
        Seed of the forest.
    contamination, fill, resample
        As for :class:`ZScoreDetector`.
    """

    def __init__(self, n_estimators: int = 100, *, contamination: float = 0.01,
                 fill: str | None = None, resample: bool = False,
                 random_state: int | None = None):
        self.n_estimators = n_estimators
        self.contamination = contamination
        self.fill = fill
        self.resample = resample
        self.random_state = random_state

    def _check_params(self):
        super()._check_params()
        self._check_integer("n_estimators", 1)

    def _learn(self, data, scaled):
        from sklearn.ensemble import IsolationForest

        self.forest_ = IsolationForest(n_estimators=self.n_estimators,
                                       random_state=self.random_state)
        self.forest_.fit(scaled[:, :data.n_targets])

    def _raw(self, data, scaled):
        return -self.forest_.score_samples(scaled[:, :data.n_targets])


class PCADetector(BaselineDetector):
    """PCA T²+Q: principal components of the standardized training rows (of every
    series together) that explain ``variance`` of their variance.

    Hotelling's T² is a row's squared distance inside that subspace, each
    component in units of its variance; Q (the squared prediction error) is the
    squared residual outside it. The score is ``T² / mean(T²) + Q / mean(Q)``,
    both means over the training rows, so each statistic counts alike.

    Parameters
    ----------
    variance
        Fraction of the training variance the kept components explain.
    contamination, fill, resample
        As for :class:`ZScoreDetector`.
    """

    def __init__(self, variance: float = 0.9, *, contamination: float = 0.01,
                 fill: str | None = None, resample: bool = False):
        self.variance = variance
        self.contamination = contamination
        self.fill = fill
        self.resample = resample

    def _check_params(self):
        super()._check_params()
        if not (_is_real(self.variance) and 0.0 < self.variance < 1.0):
            raise ValueError(f"variance must be in (0, 1), got {self.variance!r}")

    def _learn(self, data, scaled):
        x = scaled[:, :data.n_targets].astype(np.float64)
        self.mean_ = x.mean(axis=0)
        _, s, vt = np.linalg.svd(x - self.mean_, full_matrices=False)
        eig = s ** 2 / max(len(x) - 1, 1)  # [F] component variances
        explained = np.cumsum(eig) / max(eig.sum(), 1e-300)
        k = int(np.searchsorted(explained, self.variance) + 1)
        self.components_ = vt[:k]  # [k, F]
        self.explained_variance_ = np.maximum(eig[:k], 1e-12)
        t2, q = self._statistics(x)
        self.t2_scale_ = max(t2.mean(), 1e-12)
        self.q_scale_ = max(q.mean(), 1e-12)

    def _statistics(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        centred = x - self.mean_  # [N, F]
        t = centred @ self.components_.T  # [N, k]
        t2 = (t ** 2 / self.explained_variance_).sum(axis=1)
        q = ((centred - t @ self.components_) ** 2).sum(axis=1)
        return t2, q

    def _raw(self, data, scaled):
        t2, q = self._statistics(scaled[:, :data.n_targets].astype(np.float64))
        return t2 / self.t2_scale_ + q / self.q_scale_

