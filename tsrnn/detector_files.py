"""What an :class:`tsrnn.AnomalyDetector` model file holds beyond the common part
(:mod:`tsrnn.persistence`), and how files of older versions are read."""

from __future__ import annotations

import numpy as np
import torch

from tsrnn.detector_scores import SCORED_BEFORE
from tsrnn.model_checks import build_net, fitted_array, fitted_training_summary, fitted_value


def check_level_range(levels: np.ndarray) -> np.ndarray:
    """A file's ``level_range`` ``[S, F, 3]`` (low, high, spread), refused unless
    every low is at most its high and every spread above zero."""
    if not ((levels[..., 0] <= levels[..., 1]).all() and (levels[..., 2] > 0).all()):
        raise ValueError("fitted 'level_range' holds a low above its high or a spread "
                         "at or below zero")
    return levels


def _flags(values: np.ndarray) -> np.ndarray:
    """A file's 0/1 array as booleans, refused if it holds anything else."""
    if not np.isin(values, (0.0, 1.0)).all():
        raise ValueError("fitted 'constant_targets' holds values other than 0 and 1")
    return values > 0


def _at_least_one(scales: np.ndarray) -> np.ndarray:
    """A file's ``score_scale``, refused below 1 (the floor every fit keeps): a
    smaller one would magnify scores without bound."""
    if not (scales >= 1.0).all():
        raise ValueError("fitted 'score_scale' holds values below 1")
    return scales


class DetectorFile:
    """A mixin of :class:`tsrnn.AnomalyDetector`: its fitted state in a model file."""

    # save() and load() come from SeriesEstimator; these say what a file holds.
    def _fitted_state(self) -> dict:
        return {**self._fitted_roles(), "threshold": float(self.threshold_),
                "decision_scores": torch.from_numpy(self.decision_scores_),
                "likelihood_prior": torch.from_numpy(self.likelihood_prior_),
                "calendar": list(self.calendar_),
                "error_scale": torch.from_numpy(self.error_scale_),
                "training_summary": self.training_summary_,
                "threshold_scoring": self.threshold_scoring_,
                **({} if getattr(self, "longest_run_", None) is None
                   else {"longest_run": torch.from_numpy(self.longest_run_)}),
                **({} if getattr(self, "level_range_", None) is None
                   else {"level_range": torch.from_numpy(self.level_range_)}),
                **({} if getattr(self, "constant_targets_", None) is None
                   else {"constant_targets": torch.from_numpy(
                       self.constant_targets_.astype(np.float64))}),
                **({} if getattr(self, "score_scale_", None) is None
                   else {"score_scale": torch.from_numpy(self.score_scale_)}),
                # None: a file from before the range check (it learns from the data)
                **({} if self.value_range_ is None
                   else {"value_range": torch.from_numpy(self.value_range_)})}

    @staticmethod
    def _upgrade_params(params: dict) -> dict:
        """Parameters of a file saved by an older tsrnn, in today's names: the
        ``likelihood`` switch (then on by default) is now ``alerts``; files from
        before ensembles hold one network and score unsmoothed, unscaled errors;
        files from before the drift correction score without it.
        (Such a file's ranking scores, ``likelihood=False``, also had the range
        check and cooldown, now parts of the alerting scores only.)"""
        params = dict(params)
        if "likelihood" in params:
            params["alerts"] = bool(params.pop("likelihood"))
        if "n_models" not in params:  # written before ensembles, smoothing and scaling
            params.update(n_models=1, smoothing=0, normalize_errors=False)
        for name, value in SCORED_BEFORE.items():  # written before these existed
            params.setdefault(name, value)
        return params

    def _restore(self, state: dict, weights: dict) -> None:
        self._restore_roles(state)
        n_series, n_targets = len(self.ids_), len(self.target_names_)
        # Files saved before calendar inputs and the range check: no calendar, and
        # each series learns its range from the data scored (as an unseen one does).
        calendar = state.get("calendar", ())
        if not isinstance(calendar, list | tuple) or not all(isinstance(c, str)
                                                             for c in calendar):
            raise ValueError("fitted 'calendar' is not a list of calendar feature names")
        self.calendar_ = tuple(calendar)
        self.value_range_ = (fitted_array(state, "value_range", (n_series, n_targets, 2))
                             if "value_range" in state else None)
        # Files saved before normalize_errors: errors as they were, unscaled.
        self.error_scale_ = (
            fitted_array(state, "error_scale", (n_series + 1, 2, n_targets), positive=True)
            if "error_scale" in state else np.ones((n_series + 1, 2, n_targets)))
        # Files saved before the stuck-sensor check: none.
        self.longest_run_ = (fitted_array(state, "longest_run", (n_series + 1, n_targets))
                             if "longest_run" in state else None)
        # Files saved before the level check: none.
        self.level_range_ = (check_level_range(fitted_array(state, "level_range",
                                                            (n_series, n_targets, 3)))
                             if "level_range" in state else None)
        # Files saved before them: targets constant in training scored as others are,
        # and ranking scores undivided, as they were.
        self.constant_targets_ = (_flags(fitted_array(state, "constant_targets",
                                                      (n_series, n_targets)))
                                  if "constant_targets" in state else None)
        self.score_scale_ = (_at_least_one(fitted_array(state, "score_scale", (n_series + 1,)))
                             if "score_scale" in state else None)
        self.net_ = build_net(lambda: self._make_net(n_targets), weights).eval()
        self.threshold_ = fitted_value(state, "threshold", (float, int))
        if not np.isfinite(self.threshold_):
            raise ValueError(f"fitted 'threshold' is {self.threshold_}")
        self.decision_scores_ = fitted_array(state, "decision_scores", (None,))
        self.likelihood_prior_ = fitted_array(state, "likelihood_prior", (n_series + 1, 2, 2))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)
        self.training_summary_ = fitted_training_summary(state)
        # Files from before it was kept: None (labels are not checked against it).
        self.threshold_scoring_ = (fitted_value(state, "threshold_scoring", dict)
                                   if "threshold_scoring" in state else None)
