"""Evaluation metrics: pure numpy functions.

- `tsrnn.metrics.forecast`: forecast accuracy (MSE, MAE, RMSE, MAPE, sMAPE, MASE).
  MAPE and sMAPE are both in percent; MAPE leaves out, with a warning, the points
  whose actual value is 0, where it is undefined; MASE is scaled by the in-sample
  one-step error of the (seasonal) naive forecast.
- `tsrnn.metrics.m4`: the M4 competition's sMAPE, MASE and OWA, and its Naive2
  benchmark forecast.
- Anomaly detection, one module per family:

  - `tsrnn.metrics.point`: point-wise and threshold-free (ROC-AUC, PR-AUC, best F1).
  - `tsrnn.metrics.ranges`: range-based (point-adjusted F1, range-based precision
    and recall).
  - `tsrnn.metrics.vus`: VUS-PR.
  - `tsrnn.metrics.nab`: the Numenta Anomaly Benchmark's scoring (NAB score, and
    labels from NAB's windows).

Everything is re-exported here, so ``from tsrnn.metrics import mae, vus_pr`` works.
Importing this package loads neither torch nor scikit-learn.

The anomaly-detection metrics score one series and compute in float64.
Conventions shared by every function:

- ``labels`` are the ground truth, one value per time step: 0 (normal) or 1
  (anomalous), as bool, int or float. Consecutive 1s form one anomaly *range*
  (also called a segment or an event).
- ``scores`` are anomaly scores, one float per time step: **higher means more
  anomalous** (PyOD's ``decision_function`` convention).
- ``predictions`` are 0/1 detections. Wherever a function turns scores into
  detections, it uses ``scores >= threshold``.
- Inputs are 1-D array-likes of equal length (numpy arrays, lists, pandas Series,
  CPU torch tensors). Empty inputs, NaN and inf, and labels other than 0/1 are
  rejected with a ``ValueError`` that names the argument at fault. Results are
  Python floats.

Which metric to report:

- `vus_pr` (Paparrizos et al., 2022) is the metric the TSB-AD benchmark (Liu &
  Paparrizos, NeurIPS 2024) recommends: threshold-free, tolerant of small
  misalignments between detections and labelled ranges, and not inflated by
  point adjustment.
- `pr_auc` and `roc_auc` are the point-wise classics (scikit-learn's
  ``average_precision_score`` and ``roc_auc_score``). ROC-AUC looks good on
  heavily imbalanced series; prefer PR-AUC.
- `range_precision_recall` scores detections range by range (Tatbul et al., 2018).
- `point_adjusted_f1` is reported by many deep-learning papers, but it is known to
  flatter detectors (Kim et al., 2022): report it only next to an unadjusted metric.
- `nab_score` and `nab_benchmark` reproduce the Numenta Anomaly Benchmark's
  scoring, which rewards early detection inside labelled windows.

scikit-learn is not imported: the point-wise metrics mirror its computations in
numpy (the tests check them against scikit-learn), so that ``import tsrnn.metrics``
stays light.
"""

from tsrnn.metrics.forecast import (
    UndefinedMetricWarning,
    forecast_metrics,
    mae,
    mape,
    mase,
    mse,
    rmse,
    smape,
)
from tsrnn.metrics.m4 import M4_HORIZON, M4_SEASONALITY, m4_mase, m4_smape, naive2, owa
from tsrnn.metrics.nab import NAB_PROFILES, nab_benchmark, nab_score, windows_to_labels
from tsrnn.metrics.point import best_f1, pr_auc, roc_auc
from tsrnn.metrics.ranges import point_adjusted_f1, range_precision_recall
from tsrnn.metrics.vus import vus_pr

__all__ = [
    "M4_HORIZON",
    "M4_SEASONALITY",
    "NAB_PROFILES",
    "UndefinedMetricWarning",
    "best_f1",
    "forecast_metrics",
    "mae",
    "mape",
    "m4_mase",
    "m4_smape",
    "mase",
    "mse",
    "nab_benchmark",
    "nab_score",
    "naive2",
    "owa",
    "point_adjusted_f1",
    "pr_auc",
    "range_precision_recall",
    "rmse",
    "roc_auc",
    "smape",
    "vus_pr",
    "windows_to_labels",
]
