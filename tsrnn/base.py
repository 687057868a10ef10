"""What every tsrnn estimator shares: reading frames with the fitted column roles,
per-series scaling statistics, and seeding."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from torch import nn

from tsrnn._checks import check_bool, check_integer
from tsrnn._training_checks import check_training
from tsrnn.data import DataError, Scaler, SeriesData
from tsrnn.nn.ensemble import MeanEnsemble
from tsrnn.summary import Summary

BOOLEAN_PARAMS = ("bidirectional", "layer_norm", "learn_initial_state", "channel_independent",
                  "resample", "normalize_errors", "alerts")

__all__ = ["SeriesEstimator", "in_frame_order", "index_of", "member_seed", "seed_everything"]


def seed_everything(random_state: int | None) -> int:
    """Seed every generator training touches; returns the seed for the shuffler."""
    if random_state is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0] % (2**31))
    else:
        seed = int(random_state)
    torch.manual_seed(seed)
    return seed


def member_seed(seed: int, k: int) -> int:
    """Ensemble member ``k``'s seed: ``seed`` itself for the first (so one member is
    the single model), then independent draws from ``(seed, k)``."""
    if k == 0:
        return seed
    return int(np.random.SeedSequence([seed, k]).generate_state(1)[0] % 2**31)


class SeriesEstimator(BaseEstimator):
    """Base of the estimators: frames in, with the roles and frequency seen at fit.

    Subclasses set ``roles_``, ``freq_``, ``ids_``, ``scaler_loc_``,
    ``scaler_spread_``, ``time_zone_`` and ``dayfirst_`` in ``fit`` (see
    :meth:`_remember`), and have ``fill``, ``resample`` and ``scaler`` parameters.
    """

    def _check_common(self, *positive: str) -> None:
        """Checks every estimator shares: the cell, positive integer sizes, and the
        training settings (:func:`tsrnn._training_checks.check_training`)."""
        if self.cell not in ("rnn", "lstm", "gru"):
            raise ValueError(f"cell must be 'rnn', 'lstm' or 'gru', got {self.cell!r}")
        for name in (*positive, "hidden_size", "num_layers", "batch_size", "max_epochs"):
            self._check_integer(name, 1)
        if self.verbose != "auto":
            check_bool(self.verbose, "verbose")  # else True, False or "auto"
        for name in BOOLEAN_PARAMS:  # a string such as "no" would read as true
            if hasattr(self, name):
                check_bool(getattr(self, name), name)
        check_training(self)

    def _check_integer(self, name: str, minimum: int, maximum: int | None = None) -> None:
        check_integer(getattr(self, name), name, minimum, maximum)

    def save(self, path) -> None:
        """Save parameters, weights and fitted state (scaling, names, ...) to ``path``.

        The file holds tensors and plain values only, so :meth:`load` reads it with
        ``torch.load(weights_only=True)``: loading never runs pickled code.
        """
        from sklearn.utils.validation import check_is_fitted

        from tsrnn import persistence

        check_is_fitted(self, "net_")
        persistence.save(self, path)

    @classmethod
    def load(cls, path):
        """Load a model written by :meth:`save`; it scores exactly as the saved one.

        A file that is not a sound model file (unreadable, holding code, failing its
        checksum, or with weights and state that do not fit its parameters) raises
        a ``ValueError`` that names it; a missing one, ``FileNotFoundError``.
        """
        from tsrnn import persistence

        return persistence.load(cls, path)

    def to_onnx(self, path) -> dict:
        """Write the fitted model as an ONNX graph, and its metadata beside it
        (``path.json``), for serving with onnxruntime alone; returns the metadata.
        See :func:`tsrnn.export.export_onnx` (``pip install 'tsrnn[onnx]'``)."""
        from tsrnn.export.onnx import export_onnx  # the optional extra, only when asked

        return export_onnx(self, path)

    def _train(self, make_module, train, val, seed: int):
        """Train a LightningModule on window datasets with this estimator's settings.

        ``make_module(monitor)`` builds the module; ``monitor`` is what a plateau
        scheduler should watch (no validation part: the training loss). Returns the
        trained network, on the CPU in eval mode, and the training summary.
        """
        from tsrnn.data import make_loader
        from tsrnn.training import fit_module  # imports Lightning: only when training

        train_loader = make_loader(train, self.batch_size, shuffle=True, seed=seed)
        val_loader = make_loader(val, max(self.batch_size, 256)) if len(val) else None
        module = make_module("val_loss" if val_loader else "train_loss")
        summary = fit_module(
            module, train_loader, val_loader, max_epochs=self.max_epochs,
            patience=self.patience, gradient_clip=self.gradient_clip,
            accelerator=self.accelerator, devices=self.devices, precision=self.precision,
            verbose=self.verbose, log_dir=self.log_dir, trainer_kwargs=self.trainer_kwargs,
            distributed=self.distributed,
        )
        return module.net.cpu().eval(), summary

    def summary(self) -> Summary:
        """What the fitted model chose and how its training went: series, targets,
        frequency, the sizes (marked ``(auto)`` where ``"auto"`` chose them),
        calendar cycles, network and parameter count, epochs run, best validation
        loss and whether early stopping ended it.

        Returns
        -------
        tsrnn.summary.Summary
            A dict of those entries (the ones that apply); printed, or shown at a
            prompt, it reads as aligned lines: ``print(model.summary())``.
        """
        from sklearn.utils.validation import check_is_fitted

        from tsrnn.summary import summarize

        check_is_fitted(self)
        return summarize(self)

    def _fit_members(self, make_member, train_member, seed: int):
        """The ``n_models`` networks of a fit, combined by :meth:`_assemble`.

        Member ``k`` is built by ``make_member()`` and trained by
        ``train_member(net, seed_k) -> (net, summary)`` from
        ``seed_k = member_seed(seed, k)``: the same network a single fit with
        ``random_state=seed_k`` trains. Each member keeps its own checkpoint and
        resumes on its own (:func:`tsrnn.checkpoints.member_options`). Returns the
        network and the training summary: the first member's, with every member's
        under ``"members"``.
        """
        from tsrnn.checkpoints import finished_member, mark_finished, member_options

        members, summaries = [], []
        for k in range(self.n_models):
            seed_k = member_seed(seed, k)  # its initial weights and shuffling
            torch.manual_seed(seed_k)
            net = make_member()
            with member_options(k) if self.n_models > 1 else contextlib.nullcontext():
                summary = finished_member(net)  # resuming: done before the interruption
                if summary is None:
                    net, summary = train_member(net, seed_k)
                    mark_finished(net, summary)
            members.append(net.eval())
            summaries.append(summary)
        summary = summaries[0] if len(summaries) == 1 else {**summaries[0],
                                                            "members": summaries}
        return self._assemble(members), summary

    # How an estimator's ensemble answers: the mean of its members' outputs.
    _ensemble = MeanEnsemble

    def _assemble(self, members: list[nn.Module]) -> nn.Module:
        """One network, or the ensemble of several (in eval mode)."""
        return members[0] if len(members) == 1 else self._ensemble(members).eval()

    def _remember(self, data: SeriesData, scaler: Scaler) -> None:
        self.roles_ = {
            "time_col": data.time_col, "id_col": data.id_col,
            "target": list(data.target_names), "past_covariates": list(data.past_names),
            "future_covariates": list(data.future_names),
        }
        self.feature_names_in_ = np.array(data.feature_names, dtype=object)
        self.n_features_in_ = len(data.feature_names)
        self.target_names_ = list(data.target_names)
        self.freq_ = data.freq
        self.ids_ = list(data.ids)
        self.scaler_loc_ = scaler.loc_
        self.scaler_spread_ = scaler.spread_
        tz = getattr(data.times, "tz", None)
        self.time_zone_ = None if tz is None else str(tz)
        self.dayfirst_ = data.dayfirst

    def _forget(self) -> None:
        """Fitting again starts from nothing (e.g. after load)."""
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)

    def _read(self, df: pd.DataFrame | pd.Series) -> SeriesData:
        """Validate a frame (or Series) with the column roles, frequency and timezone
        seen at fit."""
        roles = self.roles_
        data = SeriesData.from_dataframe(
            df, time_col=roles["time_col"], id_col=roles["id_col"], target=roles["target"],
            past_covariates=roles["past_covariates"],
            future_covariates=roles["future_covariates"], fill=self.fill,
            freq=self.freq_, resample=self.resample, dayfirst=self.dayfirst_,
        )
        self._check_time_zone(data)
        return data

    def _check_time_zone(self, data: SeriesData) -> None:
        """Naive times are not the same instants as the aware ones seen at fit (nor
        the other way round): refuse rather than guess a timezone."""
        if not isinstance(data.times, pd.DatetimeIndex):
            return
        fitted, tz = self.time_zone_, data.times.tz
        if (fitted is None) == (tz is None):
            return  # both naive, or both aware (aware ones are converted where needed)
        column = self.roles_["time_col"] or "the index"
        if fitted is not None:
            raise DataError(f"the model was fitted on times in {fitted}, but {column!r} has no "
                            f"timezone: localize it, e.g. with .dt.tz_localize({fitted!r})")
        raise DataError(f"the model was fitted on times without a timezone, but {column!r} is "
                        f"in {tz}: make it naive as at fit, e.g. with .dt.tz_localize(None)")

    def _stats_for(self, data: SeriesData) -> tuple[np.ndarray, np.ndarray]:
        """Fitted scaling statistics of each series; a series unseen at fit gets
        statistics of its own rows."""
        known = self._series_positions()
        own = Scaler(self.scaler).fit(data.values, data.offsets,
                                      fit_rows=self._unseen_fit_rows(data))
        loc, spread = own.loc_.copy(), own.spread_.copy()
        for i, sid in enumerate(data.ids):
            if sid in known:
                loc[i], spread[i] = self.scaler_loc_[known[sid]], self.scaler_spread_[known[sid]]
        return loc, spread

    def _unseen_fit_rows(self, data: SeriesData) -> np.ndarray | None:
        """How many first rows of each series scale one unseen at fit (None: all)."""
        return None

    def _series_positions(self) -> dict:
        """Each fitted series id's position in ``ids_`` (and in the fitted stats)."""
        return {sid: i for i, sid in enumerate(self.ids_)}

    def _scaled(self, data: SeriesData) -> np.ndarray:
        loc, spread = self._stats_for(data)
        with np.errstate(over="ignore"):  # far beyond the series' scale: inf, a sure anomaly
            return ((data.values - np.repeat(loc, data.lengths, axis=0))
                    / np.repeat(spread, data.lengths, axis=0)).astype(np.float32)

    def _fitted_roles(self) -> dict:
        from tsrnn import persistence

        return {
            "roles": self.roles_, "feature_names": list(self.feature_names_in_),
            "target_names": self.target_names_, "freq": persistence.freq_to_plain(self.freq_),
            "ids": self.ids_, "scaler_loc": torch.from_numpy(self.scaler_loc_),
            "scaler_spread": torch.from_numpy(self.scaler_spread_),
            "time_zone": self.time_zone_, "dayfirst": self.dayfirst_,
        }

    def _restore_roles(self, state: dict) -> None:
        """The column roles, names, series and scaling a model file holds, refused
        unless they agree with each other (see :mod:`tsrnn.model_checks`)."""
        from tsrnn import persistence
        from tsrnn.model_checks import fitted_array, fitted_value

        roles = fitted_value(state, "roles", dict)
        for key in ("target", "past_covariates", "future_covariates"):
            if not _names(roles.get(key)):
                raise ValueError(f"fitted roles[{key!r}] is not a list of column names")
        names = fitted_value(state, "feature_names", list)
        if names != roles["target"] + roles["past_covariates"] + roles["future_covariates"]:
            raise ValueError("fitted 'feature_names' are not the targets, then the past "
                             "and future covariates of its roles")
        if fitted_value(state, "target_names", list) != roles["target"]:
            raise ValueError("fitted 'target_names' differ from its roles' targets")
        ids = fitted_value(state, "ids", list)
        stats_shape = (len(ids), len(names))  # [S, F]
        self.scaler_loc_ = fitted_array(state, "scaler_loc", stats_shape)
        # A zero spread would divide by zero: every forecast or score would be NaN.
        self.scaler_spread_ = fitted_array(state, "scaler_spread", stats_shape, positive=True)
        self.roles_ = roles
        self.feature_names_in_ = np.array(names, dtype=object)
        self.n_features_in_ = len(names)
        self.target_names_ = state["target_names"]
        self.freq_ = persistence.freq_from_plain(
            fitted_value(state, "freq", (str, int, type(None))))
        self.ids_ = ids
        # Files from before time zones were kept for every estimator: naive.
        self.time_zone_ = (fitted_value(state, "time_zone", (str, type(None)))
                           if "time_zone" in state else None)
        # Files from before day-first text was remembered: either reading.
        self.dayfirst_ = (fitted_value(state, "dayfirst", (bool, type(None)))
                          if "dayfirst" in state else None)


def _names(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def in_frame_order(values: np.ndarray, data: SeriesData) -> np.ndarray:
    """Stacked per-row results back in the input frame's row order."""
    if data.rows is None:
        return values
    out = np.empty_like(values)
    out[data.rows] = values
    return out


def index_of(df: pd.DataFrame, data: SeriesData) -> pd.Index:
    """The index of per-row results: the frame's, or the resampled grid's."""
    if data.rows is not None:
        return df.index
    if data.id_col is None:  # resampled: the regular grid
        return data.times
    ids = np.repeat(np.asarray(data.ids, dtype=object), data.lengths)
    return pd.MultiIndex.from_arrays([ids, data.times], names=[data.id_col, data.time_col])

