"""`AnomalyDetector`: reconstruction- or forecast-error anomaly scores on the shared
recurrent encoders, with thresholds and point-by-point streaming.

Label convention (PyOD's): ``decision_function`` is higher for more anomalous
points; ``predict`` gives 1 for an anomaly and 0 for a normal point.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from tsrnn._checks import check_bool, is_number
from tsrnn.base import SeriesEstimator, in_frame_order, index_of, seed_everything
from tsrnn.data import (
    Scaler,
    SeriesData,
    check_length,
    chronological_split,
)
from tsrnn.data.calendar import (
    check_calendar,
    resolve_calendar,
)
from tsrnn.detector_files import DetectorFile
from tsrnn.detector_networks import DetectorNetworks, check_trainable
from tsrnn.detector_scores import ErrorsToScores
from tsrnn.stateful import train_next_step
from tsrnn.stateful_stream import StatefulStream
from tsrnn.stream_base import check_id_kinds
from tsrnn.streaming import AnomalyStream, StreamResult

__all__ = ["AnomalyDetector", "AnomalyStream", "StreamResult"]

MAX_WINDOW = 1 << 16  # a window is memory per series in a stream: refuse absurd ones


class AnomalyDetector(DetectorNetworks, ErrorsToScores, DetectorFile, SeriesEstimator):
    """Recurrent anomaly detector for one or many series (one global model).

    Parameters
    ----------
    cell
        ``"rnn"``, ``"lstm"`` or ``"gru"``: the encoder the forecasters use.
    window
        Steps per window.
    score
        ``"reconstruction"``: a recurrent autoencoder rebuilds sliding windows; a
        step's score combines the errors of every window covering it.
        ``"forecast"``: the error of a one-step-ahead forecast from the previous
        ``window`` steps (the Forecaster's network). Ignored with ``stateful=True``.
    stateful
        False (default): each score is computed from a window (``score``). True: a
        recurrent network reads each series once, from its start, carrying its
        state from one step to the next, and a step's score is the error of its
        prediction from the state after the step before (the forecast score's
        error, from the whole past instead of a window). So a new point costs one
        cell step and a series' memory is its state, however long its history:
        :meth:`stream` then returns a :class:`tsrnn.stateful_stream.StatefulStream`.
        Trained as it is used, by truncated backpropagation through time over each
        series' whole training history (see ``tbptt_steps``). ``window`` becomes the
        warm-up: the first ``window`` steps of a series (of a stream, after a gap)
        are not scored. Needs ``bidirectional=False``.
    tbptt_steps
        With ``stateful=True``: steps per chunk of truncated backpropagation through
        time. Each series' training rows are run in chunks of this many steps in
        time order, the state carried (and detached) from one chunk to the next,
        one optimizer step per chunk; a batch holds ``batch_size`` series.
    hidden_size, num_layers, bidirectional, dropout, layer_norm
        The encoder.
    calendar
        Calendar inputs: where each step falls in its ``"day"`` and ``"week"``, as
        the sine and cosine of the phase, so a daily or weekly rhythm is expected
        rather than flagged, and a missed one is flagged (the window alone cannot
        tell the 09:00 rise from an anomalous one). ``"auto"`` (default) takes each
        cycle longer than the data's step that the longest training series
        covers at least twice; None: none; or a list such as ``["day"]``. Inputs
        only: they are never scored. See :mod:`tsrnn.data.calendar`.
    contamination
        Expected fraction of anomalies, for ``threshold="quantile"``.
    threshold
        ``"quantile"``: the ``1 - contamination`` quantile of the online scores of
        the training frame's validation rows (before the ``cooldown``, which
        zeroes most alerting scores; each series' last ``val_size``,
        which the networks never fitted: new points look like them, where the
        rows they fitted score lower; a series with fewer than 20 such rows
        gives all its rows). ``"pot"``: peaks over threshold (extreme-value
        theory) at ``risk`` on the training scores; needs no contamination guess.
    risk
        For ``"pot"``: the probability that a normal score exceeds the threshold.
    alerts
        The one switch between ranking and alerting, on the same fitted model.
        False (default): *ranking* scores, the step's error (see
        ``normalize_errors`` and ``smoothing``), best for ranking rows (ROC-AUC, PR-AUC, VUS-PR) and
        for long incidents, every step of which stays high. True: *alerting*
        scores: each step's error becomes its *anomaly likelihood* (as Numenta's
        HTM detector does), how unusual the mean of the last ``likelihood_window``
        errors is against the series' own distribution of such means over the last
        ``likelihood_history`` steps, as ``-log10(tail probability)`` (6: a
        one-in-a-million event), then the ``cooldown``, so one threshold serves a
        fleet of series as they drift and one incident raises one alarm. This is
        what NAB's reward measures; it costs per-row ranking, because the
        likelihood's reference absorbs a long incident as it goes on. Until a
        series has 100 scored steps of its own, its training scores stand in for
        the missing history, so short frames and new streams are scored from their
        first step. See :mod:`tsrnn.likelihood`. Changing it needs no refit
        for scores (``set_params(alerts=True)``), but ``threshold_`` was fitted on
        the scores fit made: ``predict`` and the stream's labels then refuse,
        naming what changed (the same for the other post-processing parameters).
    smoothing
        For ranking scores: each step's error is raised to the mean of the
        series' last ``smoothing`` errors where that is higher, so a short
        anomaly keeps its own peak and every step of a long one (a level shift,
        a closed valve) stays as high as the incident's running mean. 0: the
        errors as they are. (50 was chosen leaving one dataset out at a time:
        see the README's detection benchmark.)
    drift_window
        For ranking scores: each target's errors are divided by how far its
        error level (the ``drift_quantile`` of its last ``drift_window`` errors)
        has risen above that of its first ``drift_window // 4`` scored steps,
        where it has. A series drifting away from its training rows (a trend
        beyond the training levels, an ageing sensor) is rebuilt less and less
        well, and its normal steps would otherwise outrank faults on steady
        series under one threshold; a fault lifts only its own steps (one that
        fills a tenth of the window is divided by about 1.44 times as much at
        its end as at its start). The stuck-sensor and level checks are not divided.
        The reference is each series' first ``drift_window // 4`` scored steps in
        the frame (or stream) given, so it acts on longer frames only, and a frame
        that starts after a series has drifted is measured from there; not with
        ``stateful=True``; None: off. See :mod:`tsrnn.drift`.
        (4096 was chosen leaving one dataset out at a time, over three seeds:
        see the README's detection benchmark.)
    drift_quantile
        The quantile of a target's errors that measures its error level for
        ``drift_window``, in (0, 1); default 0.75, the upper quartile, which
        follows a drifting series' spread as well as its floor, and moves only
        once a quarter of the window has. Files saved before it keep 0.25. (See
        the README's detection benchmark for how it was chosen.)
    n_models
        Networks trained from as many seeds (the first is ``random_state``, the
        others drawn from it, so two random states share no member), whose
        squared errors are averaged (:class:`tsrnn.nn.MeanEnsemble`). Default 3:
        one network's ranking can swing with its seed (on the bundled sensors
        PR-AUC 0.16 to 0.33 over three seeds; three networks, 0.25 to 0.28), at
        ``n_models`` times the training cost. 1: a single network,
        for speed.
    likelihood_window, likelihood_history
        The short and long windows of the likelihood, in steps. (HTM averages 10
        errors; on NAB 15 to 30 score alike and about 3 points above 10, and the
        longer average is steadier on noisy series.) These, ``smoothing``, ``cooldown``
        and ``drift_window`` are at most 1,000,000 steps (a stream keeps such
        windows in memory for every series).
    likelihood_average
        The likelihood's short-term average: ``"absolute"`` (default), of the
        errors' magnitudes (the mean of the step errors' square roots, squared
        back), so that one routine outlier counts less than a lasting rise;
        ``"squared"``, of the step errors as they are (HTM's), which catches more
        single-step spikes. README "How well it detects" gives both on NAB and
        the bundled sensors.
    cooldown
        With ``alerts=True``, alarm de-duplication: a step keeps its score only if
        it beats every score of the previous ``cooldown`` steps (default 100), else
        gets 0, so an incident raises one alarm at its onset rather than one per
        step. 0: off. Ignored for ranking scores.
    range_tolerance
        With ``alerts=True``, the range check (after HTM's NAB detector): a step
        where any target is
        beyond the range that series has shown (its training rows, then every
        earlier scored row) by more than this fraction of that range scores at
        least :data:`tsrnn.likelihood.OUT_OF_RANGE_SCORE` (1000), whatever its
        error. A model of recent windows scores a new level by how unexpected
        the step is, not by how far it is from anything seen; this catches the
        far ones. None: off. (On NAB it adds 7 to 11 points.)
    normalize_errors
        True (default): each target's squared error is divided by its typical
        size on that series' validation steps (the median, as a multiple of the
        chi-square median, and at least 1% of the target's training variance:
        a quantized sensor that sat still there is not weighed a million times
        over the others), so every sensor is weighed by its own noise (a
        closely predicted sensor's surprise counts as much as a noisy one's) and
        the raw score means the same on every series: about 1 on normal steps.
        A series unseen at fit gets the median over the training series.
    scaler
        Per-series scaling fitted on the training rows: ``"robust"`` (default:
        the median and the interquartile range, which anomalies in the training
        rows do not move; on the detection benchmark it ranked better than
        ``"standard"`` on NAB, SKAB and the sensors over three seeds),
        ``"standard"``, ``"minmax"`` or None.
    lr, batch_size, max_epochs, patience, val_size, gradient_clip, fill,
    resample, freq, accelerator, devices, distributed, precision, verbose, log_dir,
    random_state, trainer_kwargs
        As for :class:`tsrnn.Forecaster`; ``distributed`` trains each network of an
        ensemble on the processes in turn, and is refused with ``stateful=True``.

    Attributes
    ----------
    decision_scores_
        Scores of the training rows, in the training frame's row order (with
        ``resample=True``: of the resampled grid's rows, series by series).
    threshold_
        Scores above it are anomalies.
    threshold_scoring_
        The post-processing parameters (``alerts``, ``smoothing``, ...) of the
        scores ``threshold_`` was fitted on.
    labels_
        0/1 labels of the training rows.
    calendar_
        The calendar cycles used, e.g. ``("day",)``.
    time_zone_
        The training timestamps' timezone (None: naive or no timestamps). Calendar
        phases are read in it, whatever zone later timestamps come in.
    dayfirst_
        How the training frame's text timestamps were read: True day-first
        (``13/01/2024``), False month-first, None not day-and-month text (ISO
        dates, say). Later text that reads either way (no day beyond 12) is
        read the same way, in batch and stream.
    value_range_
        ``[series, targets, 2]``: each training series' low and high per target,
        where the range check starts.
    longest_run_
        ``[series + 1, targets]``: each training series' (then the longest over
        them, for series unseen at fit) longest run of a target's value staying
        exactly the same. A longer run when scoring raises that target's error
        (the stuck-sensor check, :mod:`tsrnn.stuck`; not with ``stateful=True``).
    level_range_
        ``[series, targets, 3]``: the lowest and highest mean over ``window``
        steps of each target on each training series, and the spread of such
        means. A recent mean beyond them when scoring raises that target's error
        (the level check, :mod:`tsrnn.level`; not for a series unseen at fit nor
        with ``stateful=True``).
    constant_targets_
        ``[series, targets]``: which targets never changed value on each training
        series: the level check alone scores them, 0 while they hold that value
        and 49 when they leave it (:func:`tsrnn.level.constant_targets`).
    error_scale_
        ``[series + 1, 2, targets]``: for each training series, then all pooled
        (for series unseen at fit), for offline then online scores, the typical
        training squared error of each target.
    likelihood_prior_
        ``[series + 1, 2, 2]``: for each training series, then all pooled (for
        series unseen at fit), for offline then online scores, the mean and
        standard deviation of the training scores' short-term averages.
    score_scale_
        ``[series + 1]``: what each training series' (then, for series unseen at
        fit, the median's) ranking scores are divided by, so that one threshold
        means the same on every series: the median online score of its
        validation rows, at least 1 (:func:`tsrnn.error_stats.score_scales`);
        ones when fitted with ``alerts=True``. :meth:`fit_threshold` learns it
        again for the series of the frame it is given (with ranking scores).
    net_
        The fitted network (a plain ``nn.Module``).
    """

    def __init__(
        self,
        cell: str = "lstm",
        window: int = 32,
        *,
        score: str = "reconstruction",
        stateful: bool = False,
        tbptt_steps: int = 64,
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        layer_norm: bool = False,
        calendar: str | Sequence[str] | None = "auto",
        contamination: float = 0.01,
        threshold: str = "quantile",
        risk: float = 1e-3,
        alerts: bool = False,
        smoothing: int = 50,
        drift_window: int | None = 4096,
        drift_quantile: float = 0.75,
        n_models: int = 3,
        likelihood_window: int = 20,
        likelihood_history: int = 8640,
        likelihood_average: str = "absolute",
        cooldown: int = 100,
        range_tolerance: float | None = 0.05,
        normalize_errors: bool = True,
        scaler: str | None = "robust",
        lr: float = 1e-3,
        batch_size: int = 64,
        max_epochs: int = 20,
        patience: int | None = 5,
        val_size: float | int = 0.1,
        gradient_clip: float | None = 1.0,
        fill: str | None = None,
        resample: bool = False,
        freq: str | int | None = None,
        accelerator: str = "auto",
        devices: Any = "auto",
        distributed: str | None = None,
        precision: Any = "32-true",
        verbose: bool | str = "auto",
        log_dir: str | None = None,
        random_state: int | None = None,
        trainer_kwargs: dict | None = None,
    ):
        self.cell = cell
        self.window = window
        self.score = score
        self.stateful = stateful
        self.tbptt_steps = tbptt_steps
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.layer_norm = layer_norm
        self.calendar = calendar
        self.contamination = contamination
        self.threshold = threshold
        self.risk = risk
        self.alerts = alerts
        self.smoothing = smoothing
        self.drift_window = drift_window
        self.drift_quantile = drift_quantile
        self.n_models = n_models
        self.likelihood_window = likelihood_window
        self.likelihood_history = likelihood_history
        self.likelihood_average = likelihood_average
        self.cooldown = cooldown
        self.range_tolerance = range_tolerance
        self.normalize_errors = normalize_errors
        self.scaler = scaler
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_size = val_size
        self.gradient_clip = gradient_clip
        self.fill = fill
        self.resample = resample
        self.freq = freq
        self.accelerator = accelerator
        self.devices = devices
        self.distributed = distributed
        self.precision = precision
        self.verbose = verbose
        self.log_dir = log_dir
        self.random_state = random_state
        self.trainer_kwargs = trainer_kwargs

    # ------------------------------------------------------------------ fitting
    def fit(self, df: pd.DataFrame, *, target: Hashable | Sequence[Hashable] | None = None,
            time_col: Hashable | None = None, id_col: Hashable | None = None) -> AnomalyDetector:
        """Train on (mostly) normal history; sets ``decision_scores_``,
        ``threshold_`` and ``labels_``.

        Column roles are as for :meth:`tsrnn.Forecaster.fit`; ``target`` (default:
        every numeric column) are the signals scored.
        """
        self._check_params()
        self._forget()
        data = SeriesData.from_dataframe(df, time_col=time_col, id_col=id_col, target=target,
                                         fill=self.fill, resample=self.resample, freq=self.freq)
        check_length(data, self.window + 1, what="window + 1")
        seed = seed_everything(self.random_state)
        horizon = 1 if self.score == "forecast" or self.stateful else 0
        split = chronological_split(data, self.window, horizon, val_size=self.val_size,
                                    test_size=0,
                                    length_name="window + 1" if horizon else "window")
        scaler = Scaler(self.scaler).fit(data.values, data.offsets, fit_rows=split.train_end)
        self._remember(data, scaler)  # the calendar inputs need the time zone
        self.calendar_ = resolve_calendar(self.calendar, data.times, data.offsets, data.freq)
        scaled = scaler.transform(data.values, data.offsets)
        check_trainable(data, scaled)
        inputs = self._inputs(data, scaled)
        if not self.stateful:
            train = self._windows(data, inputs, split.train)
            val = self._windows(data, inputs, split.val)
        from tsrnn.training import ForecastingModule, ReconstructionModule  # Lightning

        task = ReconstructionModule if self.score == "reconstruction" else ForecastingModule

        def train_member(net, seed_k):
            if self.stateful:
                return train_next_step(self, net, data, inputs, split.train_end, seed_k)
            return self._train(lambda monitor: task(net, loss="mse", lr=self.lr,
                                                    max_epochs=self.max_epochs,
                                                    monitor=monitor),
                               train, val, seed_k)

        self.net_, self.training_summary_ = self._fit_members(
            lambda: self._make_member(data.n_targets), train_member, seed)
        self.value_range_ = np.stack(
            [np.stack([data.series(i).min(axis=0), data.series(i).max(axis=0)], axis=-1)
             for i in range(data.n_series)]).astype(np.float64)  # [S, F, 2]
        self._learn_scoring(data, inputs, split.train_end)
        return self

    def _check_params(self) -> None:
        self._check_integer("window", 2, MAX_WINDOW)  # before the shared checks' >= 1
        self._check_common()
        if self.score not in ("reconstruction", "forecast"):
            raise ValueError(f"score must be 'reconstruction' or 'forecast', got {self.score!r}")
        if self.threshold not in ("quantile", "pot"):
            raise ValueError(f"threshold must be 'quantile' or 'pot', got {self.threshold!r}")
        if self.threshold == "quantile" and not (is_number(self.contamination)
                                                 and 0.0 < self.contamination < 0.5):
            raise ValueError(f"contamination must be in (0, 0.5), got {self.contamination}")
        check_calendar(self.calendar)
        self._check_scoring()
        if self.threshold == "pot" and not 0.0 < self.risk < 0.02:
            # The tail is fitted above the 0.98 quantile: a rarer event is needed.
            raise ValueError(f"risk must be in (0, 0.02), got {self.risk}")
        self._check_integer("n_models", 1)
        check_bool(self.stateful, "stateful")
        self._check_integer("tbptt_steps", 1)
        if self.stateful and self.bidirectional:
            raise ValueError("stateful=True needs bidirectional=False: a stateful score "
                             "only ever reads the past")
        if self.stateful and self.distributed is not None:
            # Each process would take its own number of truncated-BPTT steps, and
            # DDP needs them equal.
            raise ValueError(f"distributed={self.distributed!r} does not train "
                             "stateful=True networks: use distributed=None")

    def _read(self, df: pd.DataFrame | pd.Series) -> SeriesData:
        data = super()._read(df)
        known = self._series_positions()
        check_id_kinds(self.ids_, [sid for sid in data.ids if sid not in known])  # as a stream
        return data

    def feature_scores(self, df: pd.DataFrame, *, online: bool = False) -> pd.DataFrame:
        """Each target column's contribution to the score of each row.

        Returns a DataFrame with one column per target, aligned to ``df``'s rows; the
        row sums equal :meth:`decision_function`. Each column's share is its share
        of the step's own squared error (equal shares where the error is 0; a step
        raised by ``smoothing`` is shared as its own errors are); on a step out of
        range (``alerts=True``), the columns out of range share it equally.
        """
        check_is_fitted(self, "net_")
        self._check_network()
        self._check_scoring()
        data = self._read(df)
        check_length(data, self.window + 1, what="window + 1")
        errors, valid = self._checked_errors(data, online)
        breaches = self._breaches(data)
        score = self._finish(errors, valid, data, online, breaches)
        total = errors.sum(axis=1, keepdims=True)
        overflow = np.isinf(total[:, 0])  # an error beyond float32 (a value of 1e37)
        share = np.divide(errors, total, out=np.full_like(errors, 1.0 / errors.shape[1]),
                          where=(total > 0) & ~overflow[:, None])
        # Shared equally by the infinite errors: inf / inf would be NaN, and
        # decision_function's sum would then score that step 0.
        share[overflow] = np.isinf(errors[overflow]) / np.isinf(errors[overflow]).sum(
            axis=1, keepdims=True)
        if breaches is not None:
            out = breaches.any(axis=1)
            share[out] = breaches[out] / breaches[out].sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore"):  # 0 * inf: a column with no share has none
            shares = np.where(share > 0, share * score[:, None], 0.0)
        return pd.DataFrame(in_frame_order(shares, data),
                            columns=self.target_names_, index=index_of(df, data))

    def decision_function(self, df: pd.DataFrame, *, online: bool = False) -> pd.Series:
        """Anomaly score of every row of ``df`` (higher: more anomalous).

        Ranking scores (``alerts=False``): the mean over the target columns of the
        squared errors, each in units of its typical training error
        (``normalize_errors``), raised to the mean of the series' last
        ``smoothing`` such errors where that is higher. Alerting scores
        (``alerts=True``): its anomaly likelihood ``-log10(p)``, at least 1000
        where the range check fires, then the ``cooldown``. Smoothing, likelihood
        and cooldown run along each series from the first row of ``df``.

        Parameters
        ----------
        df
            Frame with the columns seen at fit.
        online
            Score each step from data up to it only, as :meth:`stream` does: the
            reconstruction error of the step in the window that ends at it. The
            default combines every window covering a step, which also looks up to
            ``window - 1`` steps ahead. (Forecast scores are online either way.) In
            online mode the first ``window - 1`` steps of each series (``window``
            for forecast scores) cannot be scored yet and get 0 (or, with
            ``alerts=True`` and out of range, the range check's score). With
            ``stateful=True`` online and offline are the same: each series is run
            once from its first row of ``df``, carrying the state, and a step's
            score only ever depends on the steps before it (the first ``window``
            steps of each series are its warm-up and get 0; a series unseen at
            fit also waits for the ``max(100, window)`` points that scale it).

        Returns
        -------
        pandas.Series
            Aligned to ``df``'s index (to the resampled grid with ``resample=True``).
        """
        return self.feature_scores(df, online=online).sum(axis=1).rename("score")

    def predict(self, df: pd.DataFrame, *, online: bool = False) -> pd.Series:
        """0/1 labels (1: anomaly) of every row, from :meth:`decision_function`."""
        self._check_threshold()
        scores = self.decision_function(df, online=online)
        return (scores > self.threshold_).astype(np.int64).rename("label")

    def stream(self) -> AnomalyStream | StatefulStream:
        """A scorer that takes one point at a time (see :class:`AnomalyStream`;
        with ``stateful=True``, :class:`tsrnn.stateful_stream.StatefulStream`: one
        cell step per point)."""
        check_is_fitted(self, "net_")
        self._check_network()
        self._check_scoring()
        self._check_threshold()  # the stream labels points with it
        if self.stateful:
            return StatefulStream(self)
        return AnomalyStream(self)

