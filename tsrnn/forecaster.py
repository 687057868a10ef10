"""`Forecaster`: Elman RNN, LSTM and GRU forecasters behind a scikit-learn-style API."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted

from tsrnn._checks import is_integer, is_number
from tsrnn.auto import AUTO, AutoSizing
from tsrnn.backtest import Backtest, ForecastEvaluation
from tsrnn.base import SeriesEstimator, seed_everything
from tsrnn.data import (
    Scaler,
    SeriesData,
    WindowDataset,
    check_length,
)
from tsrnn.data.calendar import check_calendar
from tsrnn.data.scaling import scale
from tsrnn.forecast_calendar import (
    forecast_cycles,
    horizon_calendar,
    pad_stats,
    with_calendar,
    without_calendar,
)
from tsrnn.forecast_horizon import ForecastHorizon
from tsrnn.forecaster_files import ForecasterFile
from tsrnn.nn.attention import ATTENTIONS
from tsrnn.nn.ensemble import MedianEnsemble, members_of
from tsrnn.nn.forecast import STRATEGIES, ForecastNet
from tsrnn.nn.seq2seq import Seq2SeqNet

__all__ = ["Backtest", "Forecaster"]


class Forecaster(ForecasterFile, ForecastHorizon, AutoSizing, ForecastEvaluation,
                 SeriesEstimator):
    """Recurrent forecaster: one global model for one or many series.

    Parameters
    ----------
    cell
        ``"rnn"`` (Elman), ``"lstm"`` or ``"gru"``. GRU is lighter than LSTM and
        usually as accurate; the Elman RNN loses long-range information.
    input_len
        Steps of history each forecast sees; ``"auto"``: a few seasons of the data's
        frequency, cut to what the shortest series allows (see :mod:`tsrnn.auto`).
    horizon
        Steps forecast at once; ``"auto"``: M4's horizon for the data's frequency
        (monthly 18, weekly 13, daily 14, hourly 48, ...; see :mod:`tsrnn.auto`).
    model
        ``"rnn"``: a recurrent encoder with a forecasting head (see ``strategy``).
        ``"seq2seq"``: an encoder-decoder; the recurrent decoder unrolls the horizon
        segment by segment, fed its previous output and that segment's known-future
        covariates, attending over every encoder step.
    attention
        For ``model="seq2seq"``: ``"bahdanau"`` (additive), ``"luong"``
        (multiplicative, general), ``"luong_dot"`` (dot product) or None.
    teacher_forcing
        For ``model="seq2seq"``: the probability of feeding the decoder the true
        previous segment instead of its prediction, at the first epoch; it decays
        linearly to 0 over ``max_epochs``. Never used at prediction.
    hidden_size, num_layers, bidirectional, dropout, recurrent_dropout, layer_norm,
    nonlinearity, learn_initial_state
        The recurrent encoder (see :class:`tsrnn.nn.RecurrentEncoder`).
        ``recurrent_dropout`` (variational) is several times slower to train.
    strategy
        ``"direct"`` (all horizon steps from the final state at once),
        ``"parallel"`` (SegRNN's parallel multi-step decoding) or ``"recursive"``
        (autoregressive: each predicted segment is fed back in). ``"auto"``:
        ``"parallel"`` when the horizon is longer than four segments, else
        ``"direct"``.
    segment_len
        Steps per input segment; ``"auto"`` cuts the window into about four
        (``input_len // 4``, between 1 and 48, and at most one season when the
        frequency has one). 1 feeds single steps.
    channel_independent
        Forecast each target channel as its own univariate series with shared
        weights (best on most multivariate data); False models the channels jointly.
    window_norm
        Per-window normalization: ``"last"`` subtracts each window's last value,
        ``"mean"`` its mean, ``"standard"`` standardizes it (RevIN); None disables
        it. Without it an RNN cannot follow a level it rarely saw in training.
    scaler
        Per-series scaling fitted on the training rows: ``"standard"``,
        ``"minmax"``, ``"robust"`` (median and interquartile range) or None.
    quantiles
        E.g. ``[0.1, 0.5, 0.9]``: train with the pinball loss and forecast one column
        per quantile. Quantiles never cross.
    loss
        ``"mae"`` (robust to outliers, NeuralForecast's default too), ``"mse"`` or
        ``"huber"``, for point forecasts.
    lr, batch_size, max_epochs
        Adam learning rate, windows per batch, epochs at most.
    patience
        Early stopping: epochs without a better validation loss before stopping.
        The best epoch's weights are restored. None trains all ``max_epochs``.
    val_size
        Fraction (or rows) at the end of each series held out for early stopping;
        0 trains on everything for ``max_epochs``.
    gradient_clip
        Clip the global gradient norm to this value; None disables it.
    lr_scheduler
        None, ``"plateau"`` (halve on a validation plateau) or ``"cosine"``.
    calendar
        Calendar inputs, known-future covariates the model gets without being
        given them: ``"auto"`` picks cycles by the data's frequency (hourly: day and
        week; daily: week and year; weekly to quarterly: year; none for yearly
        data and integer times; see :mod:`tsrnn.forecast_calendar`), None uses
        none, or name cycles out of ``"day"``, ``"week"``, ``"year"``.
    fill, resample
        How to handle missing values and irregular timestamps; see
        :meth:`tsrnn.data.SeriesData.from_dataframe`.
    freq
        The series' frequency (``"5min"``, ``"h"``, an integer step); None infers
        it from the timestamps. With ``resample=True``, the grid to put them on.
    accelerator, devices, precision
        Passed to Lightning: ``"auto"`` uses CUDA when present.
    distributed
        None trains in this process; ``"ddp"`` or ``"ddp_spawn"`` trains on
        ``devices`` processes (or GPUs) with Lightning's strategy of that name, each
        taking ``batch_size / devices`` windows of every batch, so the result
        matches one process with the same ``batch_size``. ``"ddp"`` runs the script
        again in each extra process, ``"ddp_spawn"`` starts them from ``fit``; the
        fitted model is in the calling process either way, and only the first
        process writes files. See the README's "Training on several processes".
    verbose
        ``"auto"`` (default): one progress bar over epochs, with the losses, on
        standard error when it is a terminal; True: always; False: never. Never
        Lightning's own bars, banners or tips.
    log_dir
        Write Lightning CSV logs there; None writes nothing.
    n_models
        Networks trained from different seeds (the first from ``random_state``, the
        others drawn from it), whose forecasts are combined by their median
        (:class:`tsrnn.nn.MedianEnsemble`), each quantile level apart, so quantiles
        still never cross. It shrinks the spread over seeds, at ``n_models`` times
        the cost of training and forecasting (see the README's forecasting
        figures). Member ``k`` is the network a single fit with its seed trains.
    random_state
        Seed for weights and shuffling: the same seed on the same machine gives the
        same forecasts.
    trainer_kwargs
        Further keyword arguments for ``pytorch_lightning.Trainer``; they win over
        the ones tsrnn sets from its parameters (``max_epochs``,
        ``gradient_clip_val``, ...), and ``callbacks`` are added to tsrnn's own.

    Attributes
    ----------
    net_
        The fitted :class:`tsrnn.nn.ForecastNet` (a plain ``nn.Module``), or with
        ``n_models > 1`` the :class:`tsrnn.nn.MedianEnsemble` of them.
    n_features_in_, feature_names_in_
        Input columns seen at fit (targets, past, future covariates).
    target_names_
        Target columns.
    freq_
        The data's frequency.
    dayfirst_
        How the training frame's text timestamps were read: True day-first
        (``13/01/2024``), False month-first, None not day-and-month text (ISO
        dates, say). Later text that reads either way (no day beyond 12) is
        read the same way, in ``predict``'s frames and in ``future=``.
    calendar_
        The calendar cycles used (a tuple; empty: none).
    input_len_, horizon_, season_, segment_len_
        The sizes used: ``input_len``, ``horizon`` and ``segment_len`` as given, or
        what ``"auto"`` chose; ``season_`` is the frequency's calendar cycle in
        steps (12 for monthly data, 24 for hourly, 1 for integer times), the season
        backtests use for MASE with ``season="auto"``.
    training_summary_
        Epochs run, best epoch and best validation loss (of the first member, with
        every member's under ``"members"`` when ``n_models > 1``).
    """

    _ensemble = MedianEnsemble  # forecasts: the median of the members' forecasts

    def __init__(
        self,
        cell: str = "gru",
        input_len: int | str = "auto",
        horizon: int | str = "auto",
        *,
        model: str = "rnn",
        attention: str | None = "bahdanau",
        teacher_forcing: float = 0.5,
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        layer_norm: bool = False,
        nonlinearity: str = "tanh",
        learn_initial_state: bool = False,
        strategy: str = "auto",
        segment_len: int | str = "auto",
        channel_independent: bool = True,
        window_norm: str | None = "last",
        scaler: str | None = "standard",
        quantiles: Sequence[float] | None = None,
        loss: str = "mae",
        lr: float = 1e-3,
        batch_size: int = 64,
        max_epochs: int = 30,
        patience: int | None = 5,
        val_size: float | int = 0.1,
        gradient_clip: float | None = 1.0,
        lr_scheduler: str | None = None,
        calendar: str | Sequence[str] | None = None,
        fill: str | None = None,
        resample: bool = False,
        freq: str | int | None = None,
        accelerator: str = "auto",
        devices: Any = "auto",
        distributed: str | None = None,
        precision: Any = "32-true",
        verbose: bool | str = "auto",
        log_dir: str | None = None,
        n_models: int = 1,
        random_state: int | None = None,
        trainer_kwargs: dict | None = None,
    ):
        self.cell = cell
        self.input_len = input_len
        self.horizon = horizon
        self.model = model
        self.attention = attention
        self.teacher_forcing = teacher_forcing
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.layer_norm = layer_norm
        self.nonlinearity = nonlinearity
        self.learn_initial_state = learn_initial_state
        self.strategy = strategy
        self.segment_len = segment_len
        self.channel_independent = channel_independent
        self.window_norm = window_norm
        self.scaler = scaler
        self.quantiles = quantiles
        self.loss = loss
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_size = val_size
        self.gradient_clip = gradient_clip
        self.lr_scheduler = lr_scheduler
        self.calendar = calendar
        self.fill = fill
        self.resample = resample
        self.freq = freq
        self.accelerator = accelerator
        self.devices = devices
        self.distributed = distributed
        self.precision = precision
        self.verbose = verbose
        self.log_dir = log_dir
        self.n_models = n_models
        self.random_state = random_state
        self.trainer_kwargs = trainer_kwargs

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        df: pd.DataFrame | pd.Series,
        *,
        target: Hashable | Sequence[Hashable] | None = None,
        time_col: Hashable | None = None,
        id_col: Hashable | None = None,
        past_covariates: Sequence[Hashable] | None = None,
        future_covariates: Sequence[Hashable] | None = None,
    ) -> Forecaster:
        """Train on a wide or long DataFrame, or a Series (see
        :meth:`tsrnn.data.SeriesData.from_dataframe` for the shapes and the default
        column roles: a Series' index is its time axis and its name the target; a
        NeuralForecast frame ``unique_id, ds, y`` forecasts ``y`` only).

        Returns
        -------
        self
        """
        self._forget()
        self._check_params()
        data = SeriesData.from_dataframe(
            df, time_col=time_col, id_col=id_col, target=target,
            past_covariates=past_covariates, future_covariates=future_covariates,
            fill=self.fill, resample=self.resample, freq=self.freq,
        )
        validate = self._set_sizes(data)
        length, horizon = self.input_len_, self.horizon_
        check_length(data, length + horizon)
        seed = seed_everything(self.random_state)
        split = self._split(data, validate)
        scaler = Scaler(self.scaler).fit(data.values, data.offsets, fit_rows=split.train_end)
        self.calendar_ = forecast_cycles(self.calendar, data.freq)
        data, user_data = with_calendar(data, self.calendar_), data
        loc, spread = pad_stats(scaler.loc_, scaler.spread_, self.calendar_)
        scaled = scale(data.values, np.repeat(loc, data.lengths, axis=0),
                       np.repeat(spread, data.lengths, axis=0))  # calendar columns as they are

        train = WindowDataset.from_series(data, length, horizon, starts=split.train,
                                          values=scaled)
        val = WindowDataset.from_series(data, length, horizon, starts=split.val,
                                        values=scaled)
        from tsrnn.training import ForecastingModule  # imports Lightning

        net, summary = self._fit_members(
            lambda: self._make_net(data.values.shape[1], data.n_targets,
                                   len(data.future_names)),
            lambda net, seed_k: self._train(lambda monitor: ForecastingModule(
                net, loss=self.loss, quantiles=self._quantile_levels(), lr=self.lr,
                lr_scheduler=self.lr_scheduler, max_epochs=self.max_epochs, monitor=monitor),
                train, val, seed_k),
            seed)
        self._set_fitted(net, user_data, scaler, summary)  # the user's columns only
        return self

    def _set_fitted(self, net, data: SeriesData, scaler: Scaler, summary: dict) -> None:
        self.net_ = net
        self._remember(data, scaler)
        # The short context predict() needs without a frame: the last input_len rows
        # of each series, never the training frame itself.
        ends = data.offsets[1:]
        self.context_ = np.stack([data.values[e - self.input_len_ : e] for e in ends])
        self.context_end_ = [data.times[e - 1] for e in ends]
        self.training_summary_ = summary

    def _make_net(self, n_features: int, n_targets: int, n_future: int) -> ForecastNet:
        """The network for data of this shape (sizes come from the data at fit)."""
        options = dict(
            n_future=n_future, cell=self.cell, hidden_size=self.hidden_size,
            num_layers=self.num_layers, bidirectional=self.bidirectional,
            dropout=self.dropout, recurrent_dropout=self.recurrent_dropout,
            layer_norm=self.layer_norm, nonlinearity=self.nonlinearity,
            learn_initial_state=self.learn_initial_state,
            segment_len=self._segment_len(), channel_independent=self.channel_independent,
            window_norm=self.window_norm, n_quantiles=max(1, len(self._quantile_levels())),
        )
        if self.model == "seq2seq":
            return Seq2SeqNet(n_features, n_targets, self.input_len_, self.horizon_,
                              attention=self.attention, teacher_forcing=self.teacher_forcing,
                              **options)
        return ForecastNet(n_features, n_targets, self.input_len_, self.horizon_,
                           strategy=self._strategy(), **options)

    def _check_params(self) -> None:
        if self.model not in ("rnn", "seq2seq"):
            raise ValueError(f"model must be 'rnn' or 'seq2seq', got {self.model!r}")
        if self.attention not in (*ATTENTIONS, None):
            raise ValueError(f"attention must be one of {ATTENTIONS} or None, "
                             f"got {self.attention!r}")
        self._check_common(*[name for name in ("input_len", "horizon")
                             if getattr(self, name) != AUTO])
        self._check_integer("n_models", 1)
        if self.strategy not in (AUTO, *STRATEGIES):
            raise ValueError(f"strategy must be 'auto' or one of {STRATEGIES}, "
                             f"got {self.strategy!r}")
        self._quantile_levels()
        self._segment_len()
        check_calendar(self.calendar)

    def _quantile_levels(self) -> list[float]:
        if self.quantiles is None:
            return []
        if isinstance(self.quantiles, str | bytes) or not all(
                is_number(q) for q in np.atleast_1d(np.asarray(self.quantiles, dtype=object))):
            raise ValueError(f"quantiles must be a list of numbers in (0, 1), e.g. [0.1, 0.5, "
                             f"0.9], got {self.quantiles!r}")
        levels = [float(q) for q in self.quantiles]
        if not levels or any(not 0 < q < 1 for q in levels) or levels != sorted(set(levels)):
            raise ValueError(f"quantiles must be increasing values in (0, 1), "
                             f"got {self.quantiles!r}")
        return levels

    def _segment_len(self) -> int:
        """The segment length for the fitted input (before fit, an ``"auto"`` input
        only bounds an integer segment_len from below)."""
        if hasattr(self, "segment_len_"):
            return self.segment_len_
        length = getattr(self, "input_len_", None)
        if length is None:
            length = None if self.input_len == AUTO else self.input_len
        if self.segment_len == "auto":
            # About four segments per window (on ETTh1 at input 96 this beat both
            # single steps and SegRNN's 48-step segments), none longer than one
            # season, as SegRNN cuts hourly data into days, nor than 48 steps.
            season = getattr(self, "season_", 1)
            most = min(48, season) if season > 1 else 48
            return max(1, min(most, (length or 4) // 4))
        if not is_integer(self.segment_len) or not 1 <= self.segment_len <= (
                length or self.segment_len):
            raise ValueError(f"segment_len must be 'auto' or an integer in [1, input_len], "
                             f"got {self.segment_len!r}")
        return int(self.segment_len)

    def _strategy(self) -> str:
        """The decoding for the fitted sizes. A direct head learns its own weights for
        every horizon step from one final state; past four segments the parallel
        decoder shares one head across the output segments, each told its
        position, so every weight learns from the whole horizon (on ETTh1 at 336
        and 720 steps the direct head was best after its first epoch and
        overfitted from there)."""
        if self.strategy != AUTO:
            return self.strategy
        return "parallel" if self.horizon_ > 4 * self._segment_len() else "direct"

    # --------------------------------------------------------------- predicting
    def predict(self, df: pd.DataFrame | pd.Series | None = None, *,
                future: pd.DataFrame | None = None, steps: int | None = None) -> pd.DataFrame:
        """Forecast the next ``horizon`` steps (or the first ``steps``) of every series.

        Parameters
        ----------
        df
            Forecast from the end of this frame or Series (same columns as at fit;
            new series ids are fine for a global model). Default: from the end of
            the training data.
        future
            Known-future covariates over the horizon, when the model uses them: the
            time column (and id column) plus the ``future_covariates`` columns, for
            the ``horizon`` steps after each series' end. The whole horizon even
            with fewer ``steps``: the network forecasts it all at once.
        steps
            Return only the first ``steps`` forecast steps, ``1 <= steps <=
            horizon``. Default: the whole horizon. The model forecasts at most
            ``horizon`` steps at once: for longer forecasts, fit with a longer one.

        Returns
        -------
        pandas.DataFrame
            ``steps`` (default ``horizon``) rows per series: the id column (long
            frames), the time column, then one column per target, in original
            units. With quantiles, one column per target and quantile, named
            ``<target>_q<level>``.
        """
        check_is_fitted(self, "net_")
        steps = self._steps(steps)
        ids, context, ends, loc, spread = self._context(df)
        fut = self._future_values(future, ids, ends, loc, spread)
        out = self._forecast(context, fut, loc, spread)
        return self._frame(ids, ends, out[:, :steps])

    def _steps(self, steps) -> int:
        if steps is None:
            return self.horizon_
        if not is_integer(steps) or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        if steps > self.horizon_:
            raise ValueError(f"steps={steps} is beyond the model's horizon={self.horizon_}: "
                             f"it forecasts at most {self.horizon_} steps at once. For longer "
                             f"forecasts fit a model with horizon={steps}")
        return int(steps)

    def _forecast(self, context: np.ndarray, fut: np.ndarray | None, loc: np.ndarray,
                  spread: np.ndarray) -> np.ndarray:
        """Forecasts ``[S, H, C, Q]`` in original units from contexts ``[S, L, F]`` in
        original units and scaled known-future covariates ``[S, H, F_future]``."""
        with torch.inference_mode():
            scaled = (context - loc[:, None, :]) / spread[:, None, :]  # [S, L, F]
            out = self.net_(torch.from_numpy(scaled.astype(np.float32)),
                            None if fut is None else torch.from_numpy(fut))
        out = out.numpy()  # [S, H, C, Q]
        n_t = len(self.target_names_)
        return out * spread[:, None, :n_t, None] + loc[:, None, :n_t, None]

    def _context(self, df):
        """Inputs of the forecast from the end of each series, in original units."""
        if df is None:
            context = self.context_
            if self.calendar_:
                times = [pd.date_range(end=end, periods=self.input_len_, freq=self.freq_)
                         for end in self.context_end_]
                context = np.concatenate([context, horizon_calendar(times, self.calendar_)],
                                         axis=-1)  # [S, L, F + 2C]
            return (self.ids_, context, self.context_end_,
                    *pad_stats(self.scaler_loc_, self.scaler_spread_, self.calendar_))
        data = self._read(df)
        check_length(data, self.input_len_, what="input_len")
        ends = data.offsets[1:]
        context = np.stack([data.values[e - self.input_len_ : e] for e in ends])
        loc, spread = self._stats_for(data)
        return list(data.ids), context, [data.times[e - 1] for e in ends], loc, spread

    def _read(self, df: pd.DataFrame | pd.Series) -> SeriesData:
        """The frame as at fit, with the calendar columns the network reads."""
        return with_calendar(super()._read(df), self.calendar_)

    def _stats_for(self, data: SeriesData) -> tuple[np.ndarray, np.ndarray]:
        stats = super()._stats_for(without_calendar(data, self.calendar_))
        return pad_stats(*stats, self.calendar_)

    def attention_weights(self, df: pd.DataFrame | None = None, *,
                          future: pd.DataFrame | None = None) -> np.ndarray:
        """Attention of the forecast from the end of ``df`` (default: the training
        data), for ``model="seq2seq"`` with attention.

        Returns
        -------
        numpy.ndarray
            ``[series, horizon, input_len]``: how much each forecast step attends to
            each input step; every row sums to 1. Input step ``input_len - 1`` is the
            last observed one. With several target channels the weights are averaged
            over them.
        """
        check_is_fitted(self, "net_")
        net = members_of(self.net_)[0]
        if not isinstance(net, Seq2SeqNet) or net.attention is None:
            raise ValueError("attention_weights needs model='seq2seq' with attention set")
        ids, context, ends, loc, spread = self._context(df)
        fut = self._future_values(future, ids, ends, loc, spread)
        scaled = ((context - loc[:, None, :]) / spread[:, None, :]).astype(np.float32)
        inputs = (torch.from_numpy(scaled), None if fut is None else torch.from_numpy(fut))
        with torch.inference_mode():  # an ensemble's: its members' mean, rows still sum to 1
            weights = torch.stack([m.attention_weights(*inputs) for m in members_of(self.net_)])
        return weights.mean(dim=0).numpy()

    def _median_index(self) -> int:
        levels = self._quantile_levels()
        return 0 if not levels else int(np.argmin(np.abs(np.asarray(levels) - 0.5)))
