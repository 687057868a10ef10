"""Evaluation metrics: pure numpy functions.

- `tsrnn.metrics.forecast`: forecast accuracy (MSE, MAE, RMSE, MAPE, sMAPE, MASE).
- `tsrnn.metrics.anomaly`: anomaly detection (ROC-AUC, PR-AUC, best F1,
  point-adjusted F1, range-based precision and recall, VUS-PR, NAB score).

Everything is re-exported here, so ``from tsrnn.metrics import mae, vus_pr`` works.
Importing this package loads neither torch nor scikit-learn.
"""

from tsrnn.metrics.anomaly import (
    NAB_PROFILES,
    best_f1,
    nab_benchmark,
    nab_score,
    point_adjusted_f1,
    pr_auc,
    range_precision_recall,
    roc_auc,
    vus_pr,
    windows_to_labels,
)
from tsrnn.metrics.forecast import forecast_metrics, mae, mape, mase, mse, rmse, smape

__all__ = [
    "NAB_PROFILES",
    "best_f1",
    "forecast_metrics",
    "mae",
    "mape",
    "mase",
    "mse",
    "nab_benchmark",
    "nab_score",
    "point_adjusted_f1",
    "pr_auc",
    "range_precision_recall",
    "rmse",
    "roc_auc",
    "smape",
    "vus_pr",
    "windows_to_labels",
]
