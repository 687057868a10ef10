"""`SequenceClassifier`: whole-sequence classification and per-step tagging with
Elman RNN, LSTM or GRU encoders, behind scikit-learn's classifier contract."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from tsrnn._checks import is_integer
from tsrnn.base import SeriesEstimator, seed_everything
from tsrnn.data.frames import DataError
from tsrnn.data.scaling import fit_stats
from tsrnn.data.sequences import (
    SequenceData,
    SequenceDataset,
    names_a_column,
    read_labels,
    read_sequences,
)
from tsrnn.model_checks import build_net, fitted_array, fitted_training_summary, fitted_value
from tsrnn.nn.classify import OUTPUTS, SequenceNet

__all__ = ["SequenceClassifier"]


class SequenceClassifier(ClassifierMixin, SeriesEstimator):
    """Recurrent sequence classifier (many-to-one) and tagger (many-to-many).

    Sequences may differ in length: each batch is padded to its longest sequence and
    the padding is masked, so it never changes a loss, a final state or a
    bidirectional encoder's backward pass (see :class:`tsrnn.nn.RecurrentEncoder`).

    Parameters
    ----------
    cell
        ``"rnn"`` (Elman), ``"lstm"`` or ``"gru"``. The Elman RNN forgets within a
        few dozen steps; LSTM and GRU carry information much further, GRU with a
        quarter fewer parameters (see ``benchmarks/cells.py``).
    hidden_size, num_layers, bidirectional, dropout, recurrent_dropout, layer_norm
        The recurrent encoder (see :class:`tsrnn.nn.RecurrentEncoder`); ``dropout``
        also applies before the linear head. ``recurrent_dropout`` (variational) is
        several times slower to train.
    output
        ``"last"``: one label per sequence, read from the encoder at each sequence's
        true end. ``"sequence"``: one label per step.
    embedding_dim
        Size of the learned embedding that token sequences (integer ids: a 2-D
        integer array, or a list of 1-D integer arrays) are looked up in.
    tbptt_steps
        Truncated backpropagation through time for very long sequences: train on
        chunks of this many steps, carrying the hidden state from chunk to chunk
        and cutting the gradient between them, one optimizer step per chunk. None
        backpropagates through whole sequences. Needs ``bidirectional=False``.
    scaler
        Standardize (``"standard"``), min-max scale (``"minmax"``) or standardize
        by the median and interquartile range (``"robust"``) each feature with
        statistics of the training sequences; None leaves features as they are.
        Token ids are never scaled.
    fill
        Missing values (NaN, ±inf) raise :class:`tsrnn.data.DataError`;
        ``"ffill"`` or ``"interpolate"`` fill them within each sequence.
    lr, batch_size, max_epochs
        Adam learning rate, sequences per batch, epochs at most.
    patience
        Early stopping: epochs without a better validation loss before stopping;
        the best epoch's weights are restored. None trains all ``max_epochs``.
    val_size
        Fraction (or number) of the training sequences held out for early stopping,
        stratified by class for ``output="last"``; 0 trains on all of them.
    gradient_clip
        Clip the global gradient norm to this value; None disables it.
    accelerator, devices, precision
        Passed to Lightning: ``"auto"`` uses CUDA when present.
    distributed
        Train on ``devices`` processes with Lightning's ``"ddp"`` or
        ``"ddp_spawn"``, as for :class:`tsrnn.Forecaster`; refused with
        ``tbptt_steps``.
    verbose
        ``"auto"`` (default): one progress bar over epochs, with the losses, on
        standard error when it is a terminal; True: always; False: never. Never
        Lightning's own bars, banners or tips.
    log_dir
        Write Lightning CSV logs there; None writes nothing.
    random_state
        Seed for weights, the validation split and shuffling: the same seed on the
        same machine gives the same predictions.
    trainer_kwargs
        Further keyword arguments for ``pytorch_lightning.Trainer``.

    Attributes
    ----------
    classes_
        The class labels, sorted.
    net_
        The fitted :class:`tsrnn.nn.SequenceNet` (a plain ``nn.Module``).
    n_features_in_
        Features per step (1 for token sequences).
    feature_names_in_
        The feature columns, when fitted on a DataFrame.
    vocab_size_
        For token sequences: one more than the largest token id seen at fit.
    training_summary_
        Epochs run, best epoch and best validation loss.

    Examples
    --------
    >>> clf = SequenceClassifier(cell="gru", hidden_size=32, random_state=0)
    >>> clf.fit(X_train, y_train)  # doctest: +SKIP
    >>> clf.predict(X_test), clf.predict_proba(X_test), clf.score(X_test, y_test)  # doctest: +SKIP
    """

    def __init__(
        self,
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        *,
        bidirectional: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        layer_norm: bool = False,
        output: str = "last",
        embedding_dim: int = 16,
        tbptt_steps: int | None = None,
        scaler: str | None = "standard",
        fill: str | None = None,
        lr: float = 1e-3,
        batch_size: int = 32,
        max_epochs: int = 30,
        patience: int | None = 5,
        val_size: float | int = 0.1,
        gradient_clip: float | None = 1.0,
        accelerator: str = "auto",
        devices: Any = "auto",
        distributed: str | None = None,
        precision: Any = "32-true",
        verbose: bool | str = "auto",
        log_dir: str | None = None,
        random_state: int | None = None,
        trainer_kwargs: dict | None = None,
    ):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.layer_norm = layer_norm
        self.output = output
        self.embedding_dim = embedding_dim
        self.tbptt_steps = tbptt_steps
        self.scaler = scaler
        self.fill = fill
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_size = val_size
        self.gradient_clip = gradient_clip
        self.accelerator = accelerator
        self.devices = devices
        self.distributed = distributed
        self.precision = precision
        self.verbose = verbose
        self.log_dir = log_dir
        self.random_state = random_state
        self.trainer_kwargs = trainer_kwargs

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, *, id_col: Hashable | None = None,
            time_col: Hashable | None = None, initial_state=None) -> SequenceClassifier:
        """Train on labelled sequences.

        Parameters
        ----------
        X
            A 3-D array ``[n_sequences, timesteps, features]``; a list of 2-D arrays
            ``[timesteps_i, features]`` of different lengths; or a long DataFrame
            with one row per step and a sequence-id column ``id_col`` (see
            :func:`tsrnn.data.sequences.read_sequences`). Integer 2-D arrays and
            lists of 1-D integer arrays are token ids.
        y
            ``output="last"``: one label per sequence (for a frame, in order of the
            ids' first appearance), or the name of the frame's label column,
            constant within each sequence. ``output="sequence"``: one label per
            step: ``[n_sequences, timesteps]`` for an array, a list of 1-D arrays for
            a list, one per row (or the label column) for a frame.
        id_col, time_col
            For a DataFrame: the sequence-id column, and the column ordering the
            steps (default: a datetime or ``timestamp``-like column, else row order).
            Every other column but the label column is a feature.
        initial_state
            ``[n_sequences, num_layers * num_directions, hidden_size]``: the
            encoder's initial hidden state of each sequence (a frame's sequences in
            order of first appearance; LSTM cells start at zero). Pass the states
            for the new sequences to ``predict`` too. Default: zeros.

        Returns
        -------
        self
        """
        self._check_params()
        self._forget()
        frame = X if isinstance(X, pd.DataFrame) else None
        label_col = y if frame is not None and names_a_column(y, frame) else None
        data = read_sequences(X, id_col=id_col, time_col=time_col, fill=self.fill,
                              exclude=() if label_col is None else (label_col,))
        if data.n_sequences < 2:
            raise DataError(f"fit needs at least 2 sequences; got 1 ({len(data.values)} rows)")
        labels = read_labels(y, data, per_step=self.output == "sequence", frame=frame)
        classes, codes = np.unique(labels, return_inverse=True)
        if len(classes) < 2:
            raise DataError(f"y holds one class only ({classes[0]!r}): a classifier needs two")
        state = self._initial_state(initial_state, data.n_sequences)
        seed = seed_everything(self.random_state)
        train, val = self._split(codes if self.output == "last" else None, data, seed)

        in_train = np.zeros(data.n_sequences, dtype=bool)
        in_train[train] = True
        train_rows = np.repeat(in_train, data.lengths)  # [N]
        if data.tokens:
            self.vocab_size_ = int(data.values.max()) + 1
            values = data.values
        else:
            loc, spread = fit_stats(data.values[train_rows], self.scaler)
            self.scaler_loc_, self.scaler_spread_ = loc, spread
            values = ((data.values - loc) / spread).astype(np.float32)
        net = self._make_net(data.n_features, len(classes),
                             self.vocab_size_ if data.tokens else None)
        per_step = self.output == "sequence"
        train_set = SequenceDataset(values, data.offsets, codes, state, per_step=per_step,
                                    sequences=train)
        val_set = SequenceDataset(values, data.offsets, codes, state, per_step=per_step,
                                  sequences=val)
        net, summary = self._fit_net(net, train_set, val_set, seed)

        self.net_ = net
        self.classes_ = classes
        self.tokens_ = data.tokens
        self.n_features_in_ = data.n_features
        if data.feature_names is not None:
            self.feature_names_in_ = np.array(data.feature_names, dtype=object)
            self.roles_ = {"id_col": id_col, "time_col": time_col,
                           "features": list(data.feature_names)}
        self.training_summary_ = summary
        return self

    def _fit_net(self, net: SequenceNet, train: SequenceDataset, val: SequenceDataset,
                 seed: int):
        from tsrnn.data import make_loader
        from tsrnn.training import ClassificationModule, fit_module  # imports Lightning

        tbptt = self.tbptt_steps is not None
        module = ClassificationModule(net, lr=self.lr, tbptt_steps=self.tbptt_steps,
                                      gradient_clip=self.gradient_clip)
        train_loader = make_loader(train, self.batch_size, shuffle=True, seed=seed)
        val_loader = make_loader(val, max(self.batch_size, 256)) if len(val) else None
        summary = fit_module(
            module, train_loader, val_loader, max_epochs=self.max_epochs,
            patience=self.patience,
            # With truncated BPTT the module steps the optimizer itself, and clips.
            gradient_clip=None if tbptt else self.gradient_clip,
            accelerator=self.accelerator, devices=self.devices, precision=self.precision,
            verbose=self.verbose, log_dir=self.log_dir, trainer_kwargs=self.trainer_kwargs,
            distributed=self.distributed,
        )
        return module.net.cpu().eval(), summary

    def _make_net(self, n_features: int, n_classes: int, vocab_size: int | None) -> SequenceNet:
        return SequenceNet(
            n_features, n_classes, output=self.output, vocab_size=vocab_size,
            embedding_dim=self.embedding_dim, cell=self.cell, hidden_size=self.hidden_size,
            num_layers=self.num_layers, bidirectional=self.bidirectional, dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout, layer_norm=self.layer_norm,
        )

    def _check_params(self) -> None:
        self._check_common("embedding_dim")
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {self.output!r}")
        if self.tbptt_steps is not None:
            steps = self.tbptt_steps
            if not is_integer(steps) or steps < 1:
                raise ValueError(f"tbptt_steps must be a positive integer or None, "
                                 f"got {steps!r}")
            if self.bidirectional:
                raise ValueError("tbptt_steps needs bidirectional=False: the backward "
                                 "direction would need steps from later chunks")
            if self.distributed is not None:
                # Each process would take its own number of chunk steps (its
                # sequences' lengths), and DDP needs them equal.
                raise ValueError(f"distributed={self.distributed!r} does not train with "
                                 "tbptt_steps: use tbptt_steps=None or distributed=None")
        if self.scaler not in ("standard", "minmax", "robust", None):
            raise ValueError(f"scaler must be 'standard', 'minmax', 'robust' or None, got "
                             f"{self.scaler!r}")
        val = self.val_size
        if isinstance(val, bool) or not isinstance(val, int | float | np.integer | np.floating) \
                or val < 0 or (isinstance(val, float | np.floating) and val >= 1):
            raise ValueError(f"val_size must be a fraction in [0, 1) or a number of sequences, "
                             f"got {val!r}")

    def _split(self, codes: np.ndarray | None, data: SequenceData, seed: int):
        """Training and validation sequences; stratified by class when each class has
        enough sequences."""
        n = data.n_sequences
        n_val = int(round(self.val_size * n)) if isinstance(self.val_size, float | np.floating) \
            else int(self.val_size)
        if n_val == 0:
            return np.arange(n), np.arange(0)
        if n_val >= n:
            raise DataError(f"val_size={self.val_size!r} leaves no training sequence of {n}")
        from sklearn.model_selection import train_test_split

        counts = None if codes is None else np.bincount(codes)
        stratify = codes if counts is not None and counts.min() >= 2 \
            and len(counts) <= n_val <= n - len(counts) else None
        train, val = train_test_split(np.arange(n), test_size=n_val, random_state=seed,
                                      stratify=stratify)
        return np.sort(train), np.sort(val)

    def _initial_state(self, state, n_sequences: int) -> np.ndarray | None:
        if state is None:
            return None
        state = np.asarray(state, dtype=np.float32)
        width = self.num_layers * (2 if self.bidirectional else 1)
        want = (n_sequences, width, self.hidden_size)
        if state.shape != want:
            raise DataError(f"initial_state must have shape [n_sequences, num_layers * "
                            f"num_directions, hidden_size] = {want}, got {state.shape}")
        if not np.isfinite(state).all():
            raise DataError("initial_state has missing or infinite values")
        return state

    # --------------------------------------------------------------- predicting
    def predict_proba(self, X, *, initial_state=None):
        """Class probabilities, columns in the order of ``classes_``.

        Returns
        -------
        ``output="last"``: ``[n_sequences, n_classes]`` (a frame's sequences in
        order of first appearance). ``output="sequence"``: ``[n_sequences,
        timesteps, n_classes]`` for an array, a list of ``[timesteps_i, n_classes]``
        arrays for a list, ``[n_rows, n_classes]`` in row order for a frame.
        """
        check_is_fitted(self, "net_")
        data = self._read(X)
        return self._shaped(self._proba(data, initial_state), data)

    def predict(self, X, *, initial_state=None):
        """Class labels: one per sequence (``output="last"``) or one per step, shaped as
        :meth:`predict_proba` without its class axis."""
        check_is_fitted(self, "net_")
        data = self._read(X)
        labels = self.classes_[self._proba(data, initial_state).argmax(axis=1)]
        return self._shaped(labels, data)

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy: over sequences (``output="last"``), or over every step."""
        from sklearn.metrics import accuracy_score

        check_is_fitted(self, "net_")
        data = self._read(X)
        frame = X if isinstance(X, pd.DataFrame) else None
        truth = read_labels(y, data, per_step=self.output == "sequence", frame=frame)
        pred = self.classes_[self._proba(data, None).argmax(axis=1)]
        return float(accuracy_score(truth, pred, sample_weight=sample_weight))

    def _read(self, X) -> SequenceData:
        """Validate inputs against what fit saw."""
        roles = getattr(self, "roles_", None)
        if roles is None and isinstance(X, pd.DataFrame):
            raise TypeError("the classifier was fitted on arrays: pass a 3-D array or a list "
                            "of 2-D arrays, not a DataFrame")
        if roles is not None and not isinstance(X, pd.DataFrame):
            raise TypeError(f"the classifier was fitted on a DataFrame: pass a DataFrame "
                            f"with columns {roles['features']}, not {type(X).__name__}")
        if roles is None:
            data = read_sequences(X, fill=self.fill)
        else:
            data = read_sequences(X, id_col=roles["id_col"], time_col=roles["time_col"],
                                  features=roles["features"], fill=self.fill)
        if data.tokens != self.tokens_:
            fitted = "token ids" if self.tokens_ else "features"
            raise DataError(f"the classifier was fitted on {fitted}; X holds "
                            f"{'token ids' if data.tokens else 'features'}")
        if data.n_features != self.n_features_in_:
            raise DataError(f"X has {data.n_features} features per step; the classifier was "
                            f"fitted on {self.n_features_in_}")
        if data.tokens:
            unseen = np.flatnonzero(data.values >= self.vocab_size_)
            if unseen.size:
                row = int(unseen[0])
                raise DataError(f"token id {data.values[row]} in {data.locate(row)} was not "
                                f"seen at fit (ids 0..{self.vocab_size_ - 1}); "
                                f"{unseen.size} unseen tokens in all")
        return data

    def _proba(self, data: SequenceData, initial_state) -> np.ndarray:
        """Probabilities in stacked order: ``[n_sequences, C]``, or ``[n_rows, C]``."""
        state = self._initial_state(initial_state, data.n_sequences)
        values = data.values if data.tokens else \
            ((data.values - self.scaler_loc_) / self.scaler_spread_).astype(np.float32)
        dataset = SequenceDataset(values, data.offsets, state=state)
        net = self.net_.eval()
        per_step = self.output == "sequence"
        out = np.empty((len(values) if per_step else data.n_sequences, len(self.classes_)),
                       dtype=np.float64)
        # Similar lengths share a batch: less padding to run through.
        order = np.argsort(data.lengths, kind="stable")
        with torch.no_grad():
            for idx in np.array_split(order, max(1, -(-len(order) // 256))):
                batch = dataset[torch.as_tensor(idx)]
                proba = net(batch.inputs, batch.lengths, batch.state).softmax(-1).double()
                if not per_step:
                    out[idx] = proba.numpy()  # [B, C]
                    continue
                alive = torch.arange(proba.shape[1])[None, :] < batch.lengths[:, None]  # [B, T]
                starts = torch.as_tensor(data.offsets[idx])[:, None]
                rows = (starts + torch.arange(proba.shape[1])[None, :])[alive]  # true steps
                out[rows.numpy()] = proba[alive].numpy()
        return out

    def _shaped(self, stacked: np.ndarray, data: SequenceData):
        """Stacked per-step results back in the shape of the input."""
        if self.output == "last":
            return stacked
        if data.kind == "array":
            return stacked.reshape(data.n_sequences, data.steps, *stacked.shape[1:])
        if data.kind == "list":
            return np.split(stacked, data.offsets[1:-1])
        result = np.empty_like(stacked)
        result[data.rows] = stacked  # frame row order
        return result

    # -------------------------------------------------------------- persistence
    def _fitted_state(self) -> dict:
        state = {
            "classes": self.classes_.tolist(), "classes_dtype": self.classes_.dtype.str,
            "tokens": self.tokens_, "n_features": self.n_features_in_,
            "n_classes": len(self.classes_), "roles": getattr(self, "roles_", None),
            "training_summary": self.training_summary_,
        }
        if self.tokens_:
            state["vocab_size"] = self.vocab_size_
        else:
            state["scaler_loc"] = torch.from_numpy(np.asarray(self.scaler_loc_))
            state["scaler_spread"] = torch.from_numpy(np.asarray(self.scaler_spread_))
        return state

    def _restore(self, state: dict, weights: dict) -> None:
        classes = fitted_value(state, "classes", list)
        dtype = np.dtype(fitted_value(state, "classes_dtype", str))
        # Labels are numbers, strings or objects; a huge fixed-width string dtype
        # would make the label array itself the allocation to fear.
        if dtype.kind not in "biufUSO" or dtype.itemsize > 4096:
            raise ValueError(f"fitted 'classes_dtype' {dtype.str!r} is not a label type")
        self.classes_ = np.array(classes, dtype=dtype)
        if self.classes_.ndim != 1 or fitted_value(state, "n_classes", int) != len(classes):
            raise ValueError("fitted 'classes' are not a list of n_classes labels")
        self.tokens_ = fitted_value(state, "tokens", bool)
        self.n_features_in_ = fitted_value(state, "n_features", int)
        roles = fitted_value(state, "roles", (dict, type(None)))
        if roles is not None:
            features = roles.get("features")
            if not isinstance(features, list) or len(features) != self.n_features_in_:
                raise ValueError("fitted roles['features'] is not one name per feature")
            self.roles_ = roles
            self.feature_names_in_ = np.array(features, dtype=object)
        if self.tokens_:
            self.vocab_size_ = fitted_value(state, "vocab_size", int)
        else:
            n = self.n_features_in_
            self.scaler_loc_ = fitted_array(state, "scaler_loc", (n,))
            # A zero spread would divide by zero: every probability would be NaN.
            self.scaler_spread_ = fitted_array(state, "scaler_spread", (n,), positive=True)
        self.training_summary_ = fitted_training_summary(state)
        self.net_ = build_net(
            lambda: self._make_net(self.n_features_in_, len(classes),
                                   self.vocab_size_ if self.tokens_ else None),
            weights).eval()
