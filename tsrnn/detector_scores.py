"""How the detector turns its networks' step errors into scores: each series'
error scale, the stuck-sensor and level checks, the likelihood's priors, the
smoothing, the range check and the cooldown, and the warm-up of a series unseen
at fit. Shared by the batch scores and the streams (:mod:`tsrnn.streaming`,
:mod:`tsrnn.stateful_stream`), so that both give the same numbers."""

from __future__ import annotations

import numbers
import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from tsrnn._checks import check_bool, is_number
from tsrnn.base import in_frame_order
from tsrnn.data import DataError, SeriesData, check_length, chronological_split
from tsrnn.drift import DriftWatch, drift_corrected
from tsrnn.error_stats import (
    error_scales,
    held_out_rows,
    likelihood_priors,
    score_scales,
    target_variances,
)
from tsrnn.level import (
    LevelWatch,
    constant_targets,
    level_reference,
    value_checked,
    without_constant_targets,
)
from tsrnn.likelihood import AVERAGES, RangeWatch, ScoreFilter, post_process, range_breaches
from tsrnn.stuck import StuckWatch, longest_runs
from tsrnn.thresholds import pot_threshold, quantile_threshold

if TYPE_CHECKING:
    from tsrnn.detector import AnomalyDetector

NEW_SERIES_WARMUP = 100  # points that scale a series unseen at fit (see _warmup)
# The longest window a scoring parameter may ask for: a stream keeps each series'
# windows in memory (24 bytes a step of likelihood_history, 8 a step and target of
# drift_window), so a model file asking for more would exhaust memory, not score.
# A million steps is two years of minutes.
MAX_SCORING_STEPS = 1_000_000
# What fit_threshold sets, kept as it was where it fails.
_THRESHOLD_STATE = ("score_scale_", "decision_scores_", "threshold_", "labels_",
                    "threshold_scoring_")
SCORING = ("alerts", "smoothing", "drift_window", "drift_quantile", "normalize_errors",
           "likelihood_window", "likelihood_history", "likelihood_average", "cooldown",
           "range_tolerance")
# What files saved before a scoring parameter existed scored with: their
# parameters and threshold_scoring_ lack it.
SCORED_BEFORE = {"drift_window": None, "drift_quantile": DriftWatch.quantile,
                 "likelihood_average": ScoreFilter.average}


def _in_use(settings: dict, name: str, stateful: bool):
    """A scoring setting as the scores see it: the drift correction is for ranking
    scores of windowed detectors only, the likelihood's average for alerting
    scores only (so changing either where it is not used keeps the threshold)."""
    drifting = not (settings["alerts"] or stateful)
    if name == "drift_window" and not drifting:
        return None
    if name == "drift_quantile" and not (drifting and settings["drift_window"] is not None):
        return None
    if name == "likelihood_average" and not settings["alerts"]:
        return None
    return settings[name]


def same_scales(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Whether two ``score_scale_`` arrays (None: a file from before them) are the
    same, by value: what a stream made with one checks before scoring with the
    other."""
    return (a is None and b is None) or (a is not None and b is not None
                                         and np.array_equal(a, b))


class ErrorsToScores:
    """A mixin of :class:`tsrnn.AnomalyDetector`: its fitted error scales, priors and
    value ranges, read as scores, and the threshold on those scores."""

    def _check_scoring(self) -> None:
        """The parameters that may change after fit (they only post-process the
        network's errors): checked at fit and again before scoring."""
        for name in ("alerts", "normalize_errors"):
            check_bool(getattr(self, name), name)
        for name, minimum in (("likelihood_window", 1), ("likelihood_history", 2),
                              ("cooldown", 0), ("smoothing", 0)):
            self._check_integer(name, minimum, MAX_SCORING_STEPS)
        if self.drift_window is not None:
            self._check_integer("drift_window", 4, MAX_SCORING_STEPS)
        if not (is_number(self.drift_quantile) and 0.0 < self.drift_quantile < 1.0):
            raise ValueError(f"drift_quantile must be in (0, 1), got {self.drift_quantile!r}")
        if self.likelihood_average not in AVERAGES:
            raise ValueError(f"likelihood_average must be one of {AVERAGES}, got "
                             f"{self.likelihood_average!r}")
        if self.range_tolerance is not None and not (
                isinstance(self.range_tolerance, numbers.Real)
                and not isinstance(self.range_tolerance, bool) and self.range_tolerance >= 0):
            raise ValueError(f"range_tolerance must be a number >= 0 or None, got "
                             f"{self.range_tolerance!r}")
        if self.likelihood_window > self.likelihood_history:
            raise ValueError(f"likelihood_window ({self.likelihood_window}) must not exceed "
                             f"likelihood_history ({self.likelihood_history}): the short "
                             "average is judged against the history of such averages")

    @property
    def _warmup(self) -> int:
        """Points a series unseen at fit needs before it is scored: its scaling comes
        from them, in batch scores as in a stream (which cannot look further)."""
        return max(NEW_SERIES_WARMUP, self.window + (1 if self.score == "forecast" else 0))

    def _unseen_fit_rows(self, data: SeriesData) -> np.ndarray:
        return np.minimum(data.lengths, self._warmup)

    def _unseen_warming_up(self, valid: np.ndarray, data: SeriesData) -> None:
        """Online (and stateful) scores: an unseen series' steps before its scaling is
        known, as in a stream, have no score."""
        known = self._series_positions()
        short = []
        for i, (sid, a) in enumerate(zip(data.ids, data.offsets[:-1], strict=True)):
            if sid not in known:
                valid[a:a + self._warmup - 1] = False
                if data.lengths[i] < self._warmup:
                    short.append(f"{data.series_name(i)} ({data.lengths[i]} rows)")
        if short:  # every score 0, which would read as "all normal"
            shown = ", ".join(short[:3]) + (f" and {len(short) - 3} more" if len(short) > 3
                                            else "")
            warnings.warn(f"{shown}: not seen at fit, and shorter than the "
                          f"{self._warmup} points that scale a new series, so not scored "
                          "(0 throughout)", UserWarning, stacklevel=4)

    def _error_scale_of(self, i: int | None, online: bool) -> np.ndarray:
        """Series ``i``'s error scale ``[F]`` (its position in ``ids_``; None: unseen,
        pooled); ones with ``normalize_errors=False``."""
        if not self.normalize_errors:
            return np.ones(self.error_scale_.shape[-1])
        return self.error_scale_[-1 if i is None else i, int(online)]

    def _normalised(self, errors: np.ndarray, data: SeriesData, online: bool) -> np.ndarray:
        """Squared errors ``[N, F]`` in units of each series' typical training ones."""
        known = self._series_positions()
        scale = np.stack([self._error_scale_of(known.get(sid), online) for sid in data.ids])
        return errors / np.repeat(scale, data.lengths, axis=0)  # [S, F] -> [N, F]

    @property
    def _drift_window(self) -> int | None:
        """The drift correction's window: ranking scores of windowed detectors only
        (the likelihood of alerting scores has its own moving reference)."""
        return None if self.alerts or self.stateful else self.drift_window

    def _drift_corrected(self, errors: np.ndarray, valid: np.ndarray,
                         data: SeriesData) -> np.ndarray:
        """Normalised errors ``[N, F]``, series by series, divided by the rise of
        their error level (:mod:`tsrnn.drift`)."""
        window = self._drift_window
        if window is None:
            return errors
        out = np.empty_like(errors)
        for a, b in zip(data.offsets[:-1], data.offsets[1:], strict=True):
            out[a:b] = drift_corrected(errors[a:b], valid[a:b], window, self.drift_quantile)
        return out

    def _drift_watch(self) -> DriftWatch | None:
        window = self._drift_window
        return None if window is None else DriftWatch(window, len(self.target_names_),
                                                      self.drift_quantile)

    def _prior_of(self, i: int | None, online: bool) -> tuple[float, float]:
        """Series ``i``'s prior (its position in ``ids_``; None: unseen, pooled)."""
        return tuple(self.likelihood_prior_[-1 if i is None else i, int(online)])

    def _score_scale_of(self, i: int | None) -> float:
        """What series ``i``'s ranking scores are divided by (its position in ``ids_``;
        None: unseen, pooled): 1 for alerting scores (likelihoods mean the same on
        every series already) and for files from before ``score_scale_``."""
        scales = getattr(self, "score_scale_", None)
        if self.alerts or scales is None:
            return 1.0
        return float(scales[-1 if i is None else i])

    def _finish(self, errors: np.ndarray, valid: np.ndarray, data: SeriesData,
                online: bool, breaches: np.ndarray | None, with_cooldown: bool = True
                ) -> np.ndarray:
        """Final per-step scores ``[N]``: the mean error over the targets, then, series
        by series, the likelihood, the range check (``breaches`` of
        :meth:`_breaches`) and the cooldown if asked for (and ``with_cooldown``),
        or the smoothing and the series' score scale (ranking scores)."""
        raw = errors.mean(axis=1)
        out = np.empty_like(raw)
        known = self._series_positions()
        settings = self._post_processing()
        if not with_cooldown:
            settings["cooldown"] = 0
        bounds = zip(data.ids, data.offsets[:-1], data.offsets[1:], strict=True)
        for sid, a, b in bounds:
            out[a:b] = post_process(raw[a:b], valid[a:b], **settings,
                                    prior=self._prior_of(known.get(sid), online),
                                    breaches=None if breaches is None else
                                    breaches[a:b].any(axis=1))
            out[a:b] /= self._score_scale_of(known.get(sid))
        return out

    def _breaches(self, data: SeriesData) -> np.ndarray | None:
        """``[N, F]``: which targets leave their series' range (None: check off,
        as it is for ranking scores)."""
        if not self._range_check:
            return None
        known = self._series_positions()
        out = np.zeros((len(data.values), data.n_targets), dtype=bool)
        bounds = zip(data.ids, data.offsets[:-1], data.offsets[1:], strict=True)
        for sid, a, b in bounds:
            out[a:b] = range_breaches(data.values[a:b, :data.n_targets], self.range_tolerance,
                                      self._range_of(known.get(sid)), per_column=True)
        return out

    def _range_of(self, i: int | None):
        """Where series ``i``'s range check starts: its training (low, high); None
        (from its first row) for a series unseen at fit."""
        if i is None or self.value_range_ is None:
            return None
        return self.value_range_[i, :, 0], self.value_range_[i, :, 1]

    @property
    def _range_check(self) -> bool:
        """The range check is part of the alerting scores."""
        return self.alerts and self.range_tolerance is not None

    def _range_watch(self, i: int) -> RangeWatch | None:
        if not self._range_check:
            return None
        return RangeWatch(self.range_tolerance, self._range_of(i))

    def _score_filter(self, i: int) -> ScoreFilter:
        return ScoreFilter(**self._post_processing(), prior=self._prior_of(i, online=True))

    def _post_processing(self) -> dict:
        """What :func:`tsrnn.likelihood.post_process` and its stream form take: the
        likelihood and cooldown for alerting scores, the smoothing for ranking."""
        return {"likelihood": self.alerts, "window": self.likelihood_window,
                "history": self.likelihood_history, "average": self.likelihood_average,
                "cooldown": self.cooldown if self.alerts else 0,
                "smoothing": self.smoothing}

    def _scoring_settings(self) -> dict:
        """The parameters that make final scores from the networks' errors, and may
        change after fit (see ``_check_scoring``)."""
        return {name: getattr(self, name) for name in SCORING}

    def _check_threshold(self) -> None:
        """``threshold_`` was set on the training scores as fit made them: with other
        post-processing (``set_params(alerts=True)`` after fit, say) its labels would
        be wrong, so they are refused instead (scores stay available)."""
        fitted = getattr(self, "threshold_scoring_", None)
        if fitted is None:
            return  # a file from before this was kept: nothing to compare
        at_fit = {k: fitted.get(k, SCORED_BEFORE.get(k)) for k in SCORING}
        now = {k: getattr(self, k) for k in SCORING}
        if any(_in_use(at_fit, k, self.stateful) != _in_use(now, k, self.stateful)
               for k in SCORING):
            # The settings that changed (one setting can change what another does:
            # alerts=True turns the drift correction off).
            changed = [f"{k}={at_fit[k]!r} at fit, now {now[k]!r}" for k in SCORING
                       if at_fit[k] != now[k]]
            raise ValueError(f"threshold_ was fitted on scores made otherwise "
                             f"({'; '.join(changed)}): fit_threshold(training frame) sets it for "
                             "these settings, or set them back; "
                             "decision_function gives the scores either way")

    def _learn_scoring(self, data: SeriesData, inputs: np.ndarray,
                       train_end: np.ndarray) -> None:
        """What fit learns from the trained networks' errors on the training rows
        (``inputs`` of :meth:`_inputs`; ``train_end``: each series' rows before its
        validation rows): the error scales, the likelihood's priors, the value
        checks' references, the score scales, ``decision_scores_`` and
        ``threshold_``. (The detection benchmark reruns it on models it kept, so a
        change here needs no retraining to measure.)"""
        errors, valid = self._step_errors(data, inputs, online=False)  # [N, F], [N]
        # Forecast errors are online either way: one pass serves both priors.
        online = ((errors, valid) if self.score == "forecast" or self.stateful
                  else self._step_errors(data, inputs, online=True))
        self.error_scale_ = error_scales(data, train_end, offline=(errors, valid),
                                         online=online,
                                         variance=target_variances(data, inputs))
        self.longest_run_ = self._longest_runs(data)
        self.level_range_ = np.stack([  # [S, F, 3]
            level_reference(data.values[a:b, :data.n_targets], self.window)
            for a, b in zip(data.offsets[:-1], data.offsets[1:], strict=True)])
        self.constant_targets_ = np.stack([  # [S, F]
            constant_targets(data.values[a:b, :data.n_targets])
            for a, b in zip(data.offsets[:-1], data.offsets[1:], strict=True)])
        # The scores' own errors from here: a target constant in training has none
        # (tsrnn.level), though its scale above (for series unseen at fit) does.
        errors = self._without_constant(self._normalised(errors, data, online=False), data)
        online = (self._without_constant(self._normalised(online[0], data, online=True),
                                         data), online[1])
        # (before the drift correction, which alerting scores do not have)
        self.likelihood_prior_ = likelihood_priors(data, offline=(errors, valid),
                                                   online=online, window=self.likelihood_window,
                                                   average=self.likelihood_average)
        breaches = self._breaches(data)
        errors = self._drift_corrected(errors, valid, data)
        online = (self._drift_corrected(*online, data), online[1])
        self.score_scale_ = None  # learnt anew
        self._learn_score_scale(data, *online, train_end, breaches)
        self.decision_scores_ = in_frame_order(
            self._finish(errors, valid, data, False, breaches), data)
        self._set_threshold(self._held_out_scores(data, *online, train_end, breaches))

    def _learn_score_scale(self, data: SeriesData, errors: np.ndarray, valid: np.ndarray,
                           train_end: np.ndarray, breaches: np.ndarray | None) -> None:
        """``score_scale_`` from normalised online ``errors``: each training series'
        (:func:`tsrnn.error_stats.score_scales`), matched by id (one not in ``data``
        keeps the scale it had, 1 at fit), then their median for series unseen at
        fit. Alerting scores are not divided: with ``alerts=True`` the scales stay
        as they are."""
        known = self._series_positions()
        kept = getattr(self, "score_scale_", None)
        scales = np.ones(len(known) + 1) if kept is None else kept.copy()
        if not self.alerts:
            self.score_scale_ = None  # the scores as they come, to measure them
            scores = self._finish(errors, valid, data, True, breaches, with_cooldown=False)
            for sid, scale in zip(data.ids, score_scales(data, train_end, scores, valid),
                                  strict=True):
                if sid in known:
                    scales[known[sid]] = scale
            scales[-1] = np.median(scales[:-1])
        self.score_scale_ = scales

    def _longest_runs(self, data: SeriesData) -> np.ndarray:
        """``[series + 1, F]``: each training series' longest run of unchanged values
        per target, then the longest of them (for series unseen at fit)."""
        runs = np.stack([longest_runs(data.values[a:b, :data.n_targets])
                         for a, b in zip(data.offsets[:-1], data.offsets[1:], strict=True)])
        return np.vstack([runs, runs.max(axis=0)])

    def _longest_run_of(self, i: int | None) -> np.ndarray | None:
        """Series ``i``'s training record of unchanged values (None: no stuck check,
        as for ``stateful=True`` and model files from before it)."""
        if self.stateful or getattr(self, "longest_run_", None) is None:
            return None
        return self.longest_run_[-1 if i is None else i]

    def _level_range_of(self, i: int | None) -> np.ndarray | None:
        """Series ``i``'s training levels ``[F, 3]`` (None: no level check, as for a
        series unseen at fit, ``stateful=True`` and model files from before it)."""
        if i is None or self.stateful or getattr(self, "level_range_", None) is None:
            return None
        return self.level_range_[i]

    def _checked_errors(self, data: SeriesData, online: bool) -> tuple[np.ndarray, np.ndarray]:
        """The step errors ``[N, F]`` and their validity ``[N]`` that every score
        starts from: the networks' errors, normalised and corrected for drift, plus
        the value checks (a series unseen at fit warming up where the
        scores are online)."""
        errors, valid = self._step_errors(data, self._inputs(data, self._scaled(data)), online)
        if online or self.stateful:  # stateful scores are online either way
            self._unseen_warming_up(valid, data)
        errors = self._drift_corrected(self._normalised(errors, data, online), valid, data)
        return self._with_value_checks(errors, valid, data), valid

    def _with_value_checks(self, errors: np.ndarray, valid: np.ndarray,
                           data: SeriesData) -> np.ndarray:
        """Normalised errors ``[N, F]``, each target's on its scored steps plus
        what its run of unchanged values (:mod:`tsrnn.stuck`) and its recent level
        (:mod:`tsrnn.level`) say; a target constant in training, what the level
        check alone says."""
        known = self._series_positions()
        out = errors.copy()
        for sid, a, b in zip(data.ids, data.offsets[:-1], data.offsets[1:], strict=True):
            i = known.get(sid)
            checked = value_checked(out[a:b], data.values[a:b, :data.n_targets], self.window,
                                    longest=self._longest_run_of(i),
                                    reference=self._level_range_of(i),
                                    constant=self._constant_of(i))
            out[a:b] = np.where(valid[a:b, None], checked, out[a:b])
        return out

    def _without_constant(self, errors: np.ndarray, data: SeriesData) -> np.ndarray:
        """Normalised errors ``[N, F]`` with those of each series' targets constant in
        training set to 0, where the level check measures them instead."""
        known = self._series_positions()
        out = errors.copy()
        for sid, a, b in zip(data.ids, data.offsets[:-1], data.offsets[1:], strict=True):
            out[a:b] = without_constant_targets(out[a:b], self._constant_of(known.get(sid)))
        return out

    def _constant_of(self, i: int | None) -> np.ndarray | None:
        """Series ``i``'s targets constant in training ``[F]`` (None: no such rule, as
        without the level check and for files from before ``constant_targets_``)."""
        constant = getattr(self, "constant_targets_", None)
        if constant is None or self._level_range_of(i) is None:
            return None
        return constant[i]

    def _stuck_watch(self, i: int | None) -> StuckWatch | None:
        longest = self._longest_run_of(i)
        return None if longest is None else StuckWatch(longest)

    def _level_watch(self, i: int | None) -> LevelWatch | None:
        levels = self._level_range_of(i)
        return None if levels is None else LevelWatch(levels, self.window)

    def _held_out_scores(self, data: SeriesData, errors: np.ndarray, valid: np.ndarray,
                         train_end: np.ndarray, breaches: np.ndarray | None) -> np.ndarray:
        """Online scores of the rows that stand for new data (each series'
        validation rows, see :func:`tsrnn.error_stats.held_out_rows`), from
        normalised online ``errors``: what ``threshold="quantile"`` reads. Before
        the cooldown, which sets all but one step in ``cooldown`` to 0: on a short
        series all the validation rows, and a quantile of zeros would flag every
        score above 0."""
        scores = self._finish(errors, valid, data, True, breaches, with_cooldown=False)
        return scores[held_out_rows(data, train_end, valid)]

    def _set_threshold(self, held_out: np.ndarray) -> None:
        """``threshold_`` (from the ``held_out`` scores of :meth:`_held_out_scores`,
        or for ``"pot"`` from ``decision_scores_``) and ``labels_``, for the
        post-processing they were made with."""
        if self.threshold == "pot":
            try:
                self.threshold_ = pot_threshold(self.decision_scores_, risk=self.risk)
            except ValueError as err:
                raise ValueError(f"threshold='pot': {err}; use threshold='quantile', or a "
                                 "longer training frame") from None
        else:
            self.threshold_ = quantile_threshold(held_out, self.contamination)
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)
        self.threshold_scoring_ = self._scoring_settings()

    def fit_threshold(self, df: pd.DataFrame) -> AnomalyDetector:
        """Set ``threshold_`` (and ``score_scale_``, ``decision_scores_``, ``labels_``)
        again from the scores of ``df`` under the current post-processing, without
        retraining the networks: after ``set_params(alerts=True)``, say. Pass the
        training frame, as the fit's threshold came from it: its validation rows,
        split as fit splits them (``threshold``, ``contamination`` and ``risk``
        apply as in :meth:`fit`)."""
        check_is_fitted(self, "net_")
        self._check_network()
        self._check_params()
        data = self._read(df)
        check_length(data, self.window + 1, what="window + 1")
        errors, valid = self._checked_errors(data, online=True)
        train_end, breaches = self._train_end(data), self._breaches(data)
        if self.threshold == "quantile" and not held_out_rows(data, train_end, valid).any():
            # (Checked before anything changes.) Series unseen at fit are not scored
            # before the points that scale them.
            raise DataError(f"fit_threshold: none of the frame's validation rows (each "
                            f"series' last val_size={self.val_size!r}) has a score yet: a "
                            f"series unseen at fit is scored after its first {self._warmup} "
                            "rows. Pass the training frame")
        kept = {name: getattr(self, name, None) for name in _THRESHOLD_STATE}
        try:
            self._learn_score_scale(data, errors, valid, train_end, breaches)
            # A copy: pandas' copy-on-write hands out a read-only view, which torch
            # warns about when the model is saved.
            self.decision_scores_ = self.decision_function(df).to_numpy(dtype=np.float64,
                                                                        copy=True)
            self._set_threshold(self._held_out_scores(data, errors, valid, train_end,
                                                      breaches))
        except BaseException:
            # All or nothing: new score scales under the old threshold would flag
            # far fewer (or more) rows, in batch and in every stream, silently.
            self.__dict__.update(kept)
            raise
        return self

    def _train_end(self, data: SeriesData) -> np.ndarray:
        """Each series' rows before its validation rows, as fit splits them."""
        horizon = 1 if self.score == "forecast" or self.stateful else 0
        return chronological_split(data, self.window, horizon, val_size=self.val_size,
                                   test_size=0).train_end
