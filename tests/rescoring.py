"""A fitted detector scored with other post-processing, without retraining: what the
stream-against-batch tests of tests/test_detector.py and tests/test_stateful.py use."""

from __future__ import annotations

from sklearn.base import clone

from tsrnn import AnomalyDetector


def scored_differently(det: AnomalyDetector, **params) -> AnomalyDetector:
    """A copy of a fitted detector with other scoring parameters (likelihood,
    cooldown, smoothing): the same network and fitted state, no retraining. The
    fixtures are shared, so they are never changed in place.

    The fitted ``threshold_`` is kept and declared fit for the new scores
    (``threshold_scoring_``): these tests compare the stream's scores and labels
    with the batch ones under one threshold, whatever it is worth."""
    copy = clone(det).set_params(**params)
    copy.__dict__.update({k: v for k, v in det.__dict__.items() if k.endswith("_")})
    copy.threshold_scoring_ = copy._scoring_settings()
    return copy
