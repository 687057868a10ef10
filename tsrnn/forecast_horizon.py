"""What a :class:`tsrnn.Forecaster` knows of the horizon: its steps' times, the
known-future inputs there (``future=`` covariates, then the calendar's), and the
forecast frame laid out over those steps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tsrnn.data import DataError
from tsrnn.data.time_axis import _parse_times as parse_times
from tsrnn.forecast_calendar import horizon_calendar


class ForecastHorizon:
    """A mixin of :class:`tsrnn.Forecaster`: the horizon's inputs and frame."""

    def _future_values(self, future, ids, ends, loc, spread):
        """Scaled known-future inputs over the horizon ``[S, H, F_future]``: the
        user's covariates from ``future``, then the calendar's."""
        cal = (horizon_calendar([self._future_index(e) for e in ends], self.calendar_)
               if self.calendar_ else None)
        n_future = len(self.roles_["future_covariates"])
        if n_future == 0:
            return cal
        if future is None:
            raise ValueError(
                f"this model uses known-future covariates {self.roles_['future_covariates']}: "
                f"pass future= with their values for the {self.horizon_} steps after each "
                "series' end"
            )
        time_col, id_col = self.roles_["time_col"], self.roles_["id_col"]
        cols = self.roles_["future_covariates"]
        frame = _by_time(future, time_col, id_col, cols, self.dayfirst_)
        out = np.empty((len(ids), self.horizon_, n_future), dtype=np.float32)
        cols_at = slice(self.n_features_in_ - n_future, self.n_features_in_)
        for i, (sid, end) in enumerate(zip(ids, ends, strict=True)):
            rows = frame if id_col is None else frame[frame[id_col] == sid]
            steps = self._future_index(end)
            missing = steps.difference(rows.index)
            who = "" if id_col is None else f" of series {sid!r}"
            if len(missing):
                raise DataError(f"future= lacks {list(cols)} at {missing[0]}{who} "
                                f"({len(missing)} of the {self.horizon_} horizon steps)")
            twice = rows.index[rows.index.isin(steps) & rows.index.duplicated()]
            if len(twice):
                raise DataError(f"future= has several rows at {twice[0]}{who}: which "
                                f"holds the value of {list(cols)}?")
            values = rows.loc[steps, cols].to_numpy(dtype=np.float32)
            if not np.isfinite(values).all():
                raise DataError(f"future= has missing or infinite values in {list(cols)}")
            out[i] = (values - loc[i, cols_at]) / spread[i, cols_at]
        return out if cal is None else np.concatenate([out, cal], axis=-1)

    def _future_index(self, end) -> pd.Index:
        if isinstance(self.freq_, int | np.integer):
            return pd.Index(end + self.freq_ * np.arange(1, self.horizon_ + 1))
        return pd.date_range(end, periods=self.horizon_ + 1, freq=self.freq_)[1:]

    def _column_names(self) -> list[str]:
        levels = self._quantile_levels()
        if not levels:
            return list(self.target_names_)
        return [f"{t}_q{q:g}" for t in self.target_names_ for q in levels]

    def _frame(self, ids, ends, out: np.ndarray) -> pd.DataFrame:
        """``out [S, H, C, Q]`` -> a long DataFrame of forecasts."""
        s, h, c, q = out.shape
        time_name = self.roles_["time_col"] or "timestamp"
        frame = pd.DataFrame(out.reshape(s * h, c * q), columns=self._column_names())
        stamps = [self._future_index(end)[:h] for end in ends]
        frame.insert(0, time_name, stamps[0].append(stamps[1:]) if s > 1 else stamps[0])
        if self.roles_["id_col"] is not None:
            frame.insert(0, self.roles_["id_col"], np.repeat(np.asarray(ids, dtype=object), h))
        return frame


def _by_time(future, time_col, id_col, cols: list, dayfirst: bool | None) -> pd.DataFrame:
    """``future=`` indexed by its times, parsed as at fit (text from a CSV too, read
    day-first where it reads either way and the training text was: ``dayfirst``)."""
    if not isinstance(future, pd.DataFrame):
        raise TypeError(f"future= must be a DataFrame, got {type(future).__name__}")
    missing = [c for c in (time_col, id_col, *cols) if c is not None and c not in future]
    if missing:
        raise DataError(f"future= has no column {missing[0]!r}; its columns are "
                        f"{list(future.columns)}")
    times = parse_times(future, time_col, dayfirst)[0]
    return future.set_axis(times, axis=0)
