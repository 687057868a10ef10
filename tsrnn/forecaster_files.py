"""What a :class:`tsrnn.Forecaster` model file holds beyond the common part
(:mod:`tsrnn.persistence`), and how files of older versions are read."""

from __future__ import annotations

import torch

from tsrnn import persistence
from tsrnn._checks import is_integer
from tsrnn.auto import AUTO
from tsrnn.data.calendar import calendar_names, check_calendar
from tsrnn.model_checks import build_net, fitted_array, fitted_training_summary, fitted_value
from tsrnn.nn.ensemble import members_of


class ForecasterFile:
    """A mixin of :class:`tsrnn.Forecaster`: its fitted state in a model file."""

    # save() and load() come from SeriesEstimator; these say what a file holds.
    def _fitted_state(self) -> dict:
        return {
            **self._fitted_roles(),
            "context": torch.from_numpy(self.context_),
            "context_end": [persistence.time_to_plain(t) for t in self.context_end_],
            "training_summary": self.training_summary_,
            "calendar": list(self.calendar_),
            "sizes": {"input_len": self.input_len_, "horizon": self.horizon_,
                      "season": self.season_, "segment_len": self.segment_len_},
            "net_shape": {k: getattr(members_of(self.net_)[0], k)
                          for k in ("n_features", "n_targets", "n_future")},
        }

    def _restore(self, state: dict, weights: dict) -> None:
        self._restore_roles(state)
        self._restore_sizes(state)
        # Files from before calendar inputs: none.
        calendar = state.get("calendar", [])
        if not isinstance(calendar, list) or check_calendar(calendar) != tuple(calendar):
            raise ValueError("fitted 'calendar' is not a list of calendar cycles")
        self.calendar_ = tuple(calendar)
        n_cal = len(calendar_names(self.calendar_))
        shape = fitted_value(state, "net_shape", dict)
        sizes = (self.n_features_in_ + n_cal, len(self.target_names_),
                 len(self.roles_["future_covariates"]) + n_cal)
        if tuple(shape.get(k) for k in ("n_features", "n_targets", "n_future")) != sizes:
            raise ValueError(f"fitted 'net_shape' {shape} does not match its column roles")
        self.net_ = build_net(lambda: self._assemble(
            [self._make_net(*sizes) for _ in range(self.n_models)]), weights).eval()
        n_series = len(self.ids_)
        self.context_ = fitted_array(state, "context",
                                     (n_series, self.input_len_, self.n_features_in_))
        ends = fitted_value(state, "context_end", list)
        if len(ends) != n_series or not all(isinstance(t, str | int) for t in ends):
            raise ValueError(f"fitted 'context_end' is not one time per series ({n_series})")
        self.context_end_ = [persistence.time_from_plain(t) for t in ends]
        self.training_summary_ = fitted_training_summary(state)

    def _restore_sizes(self, state: dict) -> None:
        """The fitted sizes; files from before ``"auto"`` sizes hold integers in their
        parameters and no season (1)."""
        if "sizes" not in state:
            if AUTO in (self.input_len, self.horizon):
                raise ValueError("fitted 'sizes' missing for input_len or horizon 'auto'")
            self.input_len_, self.horizon_, self.season_ = int(self.input_len), \
                int(self.horizon), 1
            self._restore_segment_len({})
            return
        sizes = fitted_value(state, "sizes", dict)
        values = [sizes.get(k) for k in ("input_len", "horizon", "season")]
        if not all(is_integer(v) and v >= 1 for v in values):
            raise ValueError(f"fitted 'sizes' {sizes} are not positive integers")
        for name, value in zip(("input_len", "horizon"), values, strict=False):
            if getattr(self, name) not in (AUTO, value):
                raise ValueError(f"fitted 'sizes' {name}={value} differs from its parameter "
                                 f"{name}={getattr(self, name)}")
        self.input_len_, self.horizon_, self.season_ = (int(v) for v in values)
        self._restore_segment_len(sizes)

    def _restore_segment_len(self, sizes: dict) -> None:
        """Files from before the season cap hold no segment length: theirs came from
        ``input_len // 4`` between 1 and 48 alone."""
        if "segment_len" not in sizes:
            self.segment_len_ = (max(1, min(48, self.input_len_ // 4))
                                 if self.segment_len == AUTO else int(self.segment_len))
            return
        value = sizes["segment_len"]
        if not (is_integer(value) and 1 <= value <= self.input_len_):
            raise ValueError(f"fitted 'sizes' segment_len={value!r} is not an integer in "
                             f"[1, input_len={self.input_len_}]")
        self.segment_len_ = int(value)
