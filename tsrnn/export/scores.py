"""A detector's scores from its exported graph's errors, with numpy and scipy
alone (no torch, no onnxruntime): the post-processing that stays outside the
graph because it runs along time.

An exported detector gives the network's raw squared errors (see
:mod:`tsrnn.export.onnx`). Put one series' errors in time order, one row per
step, NaN where a step has none yet (the warm-up), and :func:`detector_scores`
gives what ``decision_function(df, online=True)`` and the detector's stream
give for those rows: the errors in units of the series' training errors,
corrected for drift (ranking scores), their stuck-sensor and level checks, their
mean over the targets, then the smoothing and the series' score scale, or the
likelihood, the range check and the cooldown, as the fitted parameters in the
metadata say.

- windowed, ``score="reconstruction"``: row ``t`` is the last row of the
  errors of the window that ends at ``t`` (``errors[:, -1]``); the first
  ``window - 1`` rows are NaN.
- windowed, ``score="forecast"``: row ``t`` is the error of the window of the
  ``window`` rows before ``t`` and ``t`` itself; the first ``window`` are NaN.
- stateful: row ``t`` is the step graph's ``error`` at ``t``; the first
  ``window`` are NaN, as the stream's warm-up.

Compare the scores with the metadata's ``threshold`` for 0/1 labels.
"""

from __future__ import annotations

import numpy as np

from tsrnn.drift import DriftWatch, drift_corrected
from tsrnn.level import value_checked
from tsrnn.likelihood import ScoreFilter, post_process, range_breaches

__all__ = ["detector_scores"]


def detector_scores(errors: np.ndarray, metadata: dict, series=None, *,
                    values: np.ndarray | None = None) -> np.ndarray:
    """One fitted series' scores ``[T]`` from its graph errors ``[T, F]``.

    Parameters
    ----------
    errors
        Squared errors of the targets in scaled units, one row per step in time
        order; a row with a NaN has no error yet (0, as the detector scores it).
    metadata
        The export's metadata: ``OnnxModel.metadata``, or the ``.json`` beside
        the graph read with :func:`json.load`.
    series
        The fitted series (an id of ``metadata["scaling"]["series"]``); None:
        the only one.
    values
        ``[T, F]`` the targets in original units, for the range check, which
        ``alerts=True`` with a ``range_tolerance`` needs, and the stuck-sensor
        and level checks (every windowed detector's: its metadata's
        ``longest_run`` and ``level_range``). A missing value (NaN or inf) is
        carried forward from the last one, as the detector does with
        ``fill="ffill"``; without it, it is refused, naming its row.

    Returns
    -------
    numpy.ndarray
        ``[T]``: higher is more anomalous; above ``metadata["threshold"]`` is an
        anomaly.
    """
    if not str(metadata.get("kind", "")).startswith("detector"):
        raise ValueError(f"metadata of kind {metadata.get('kind')!r}: expected a detector's")
    fitted = metadata["scaling"]["series"]
    if series is None and len(fitted) == 1:
        series = fitted[0]
    if series not in fitted:
        raise KeyError(f"series {series!r} was not seen at fit; fitted: {fitted[:5]}")
    i, p = fitted.index(series), metadata["params"]
    errors = np.asarray(errors, dtype=np.float64)
    n_targets = len(metadata["target_names"])
    if errors.ndim != 2 or errors.shape[1] != n_targets:
        raise ValueError(f"errors must have shape [steps, {n_targets}], got {list(errors.shape)}")
    valid = np.isfinite(errors).all(axis=1)
    scale = np.asarray(metadata["error_scale"])[i, 1] if p["normalize_errors"] else 1.0
    errors = np.where(valid[:, None], errors, 0.0) / scale
    alerts = p["alerts"]
    if not alerts and not p.get("stateful"):  # exports from before it: no drift_window
        errors = drift_corrected(errors, valid, p.get("drift_window"),
                                 p.get("drift_quantile", DriftWatch.quantile))  # older: none
    breaches = None
    if alerts and p["range_tolerance"] is not None:
        if values is None:
            raise ValueError("values are needed for the range check (alerts=True with a "
                             "range_tolerance): the targets in original units, [steps, "
                             f"{n_targets}]")
        ranges = metadata.get("value_range")
        start = None if ranges is None else tuple(np.asarray(ranges[i]).T)  # low, high [F]
        breaches = range_breaches(np.asarray(values, np.float64)[:, :n_targets],
                                  p["range_tolerance"], start)
    longest, levels = metadata.get("longest_run"), metadata.get("level_range")
    if longest is not None or levels is not None:  # as the detector's (tsrnn.stuck, .level)
        if values is None:
            raise ValueError("values are needed for the stuck-sensor and level checks: the "
                             f"targets in original units, [steps, {n_targets}]")
        targets = _filled(np.asarray(values, np.float64)[:, :n_targets],
                          p.get("fill")).astype(np.float32)  # as the detector reads
        constant = metadata.get("constant_targets")  # older exports: none
        checked = value_checked(
            errors, targets, metadata["window"],
            longest=None if longest is None else np.asarray(longest[i], np.float64),
            reference=None if levels is None else np.asarray(levels[i], np.float64),
            constant=None if constant is None else np.asarray(constant[i]) > 0)
        errors = np.where(valid[:, None], checked, errors)
    raw = errors.mean(axis=1)
    prior = metadata["likelihood_prior"][i][1]
    scores = post_process(raw, valid, likelihood=alerts, window=p["likelihood_window"],
                          history=p["likelihood_history"], cooldown=p["cooldown"] if alerts else 0,
                          prior=tuple(prior), breaches=breaches, smoothing=p["smoothing"],
                          average=p.get("likelihood_average", ScoreFilter.average))  # older: none
    score_scale = metadata.get("score_scale")  # ranking scores; older exports: none
    return scores if alerts or score_scale is None else scores / float(score_scale[i])


def _filled(values: np.ndarray, fill) -> np.ndarray:
    """``values`` ``[T, F]`` with each missing one (NaN or inf) the last before it,
    as the detector reads a frame with ``fill="ffill"``; refused where the
    detector would refuse it."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return values
    row = int(np.flatnonzero(bad.any(axis=1))[0])
    if fill != "ffill":
        raise ValueError(f"values row {row} is missing or infinite, and the detector was "
                         "fitted without fill='ffill' to carry the last value forward")
    if row == 0:
        raise ValueError("values row 0 is missing or infinite: there is no earlier value "
                         "to carry forward")
    last = np.maximum.accumulate(np.where(bad, 0, np.arange(len(values))[:, None]), axis=0)
    return np.take_along_axis(values, last, axis=0)
