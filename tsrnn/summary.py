"""`model.summary()`: what a fitted estimator chose and how its training went.

A :class:`Summary` is a plain dict (for code and logs) that prints as a few aligned
lines (for people): ``print(model.summary())``, or the bare call at a prompt. Like
statsmodels' ``results.summary()`` and unlike Keras' ``model.summary()`` it prints
nothing itself, so a script decides where the text goes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Summary", "summarize"]


class Summary(dict):
    """What a fitted estimator chose and learned: entries that do not apply to it
    are left out. Sizes chosen by ``"auto"`` say so in the text (``"auto"`` in
    ``chosen``)."""

    def __str__(self) -> str:
        chosen = self.get("chosen", ())
        lines = [self["estimator"]]
        for key, value in self.items():
            if key in ("estimator", "chosen"):
                continue
            text = _plain(value) + (" (auto)" if key in chosen else "")
            lines.append(f"  {key + ':':<15} {text}")
        return "\n".join(lines)

    __repr__ = __str__  # at a prompt, the text rather than the dict

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython
        printer.text(str(self))


def summarize(est) -> Summary:
    """The :class:`Summary` of a fitted tsrnn estimator (see
    :meth:`tsrnn.base.SeriesEstimator.summary`)."""
    out = Summary(estimator=type(est).__name__)
    params = est.get_params()
    if hasattr(est, "ids_"):
        out["series"] = len(est.ids_)
    if hasattr(est, "target_names_"):
        out["targets"] = list(est.target_names_)
    roles = getattr(est, "roles_", {})
    for role in ("past_covariates", "future_covariates"):
        if roles.get(role):
            out[role] = list(roles[role])
    if hasattr(est, "classes_"):
        out["classes"] = [c.item() if hasattr(c, "item") else c for c in est.classes_]
    if hasattr(est, "freq_"):
        freq = est.freq_
        out["freq"] = (None if freq is None else int(freq)
                       if isinstance(freq, int | np.integer) else freq.freqstr)
    chosen = []
    for size in ("input_len", "horizon", "season", "segment_len"):
        if hasattr(est, size + "_"):
            out[size] = int(getattr(est, size + "_"))
            if params.get(size) == "auto":
                chosen.append(size)
    if "window" in params:
        out["window"] = params["window"]
    if hasattr(est, "calendar_"):
        out["calendar"] = list(est.calendar_)
        if params.get("calendar") == "auto":
            chosen.append("calendar")
    net = getattr(est, "net_", None)
    if net is not None:
        layers = params.get("num_layers", 1)
        kind = params.get("cell", "") + (" seq2seq" if params.get("model") == "seq2seq" else "")
        out["network"] = (f"{kind}, {layers} layer{'s' * (layers > 1)} of "
                          f"{params.get('hidden_size')} units")
        if hasattr(est, "_strategy") and params.get("model") == "rnn":
            out["strategy"] = est._strategy()
            if params.get("strategy") == "auto":
                chosen.append("strategy")
        out["parameters"] = int(sum(p.numel() for p in net.parameters()))
        if "n_models" in params:
            out["n_models"] = params["n_models"]
    training = getattr(est, "training_summary_", None)
    if training:
        out.update(_training(training, params))
    if hasattr(est, "threshold_"):
        out["threshold"] = float(est.threshold_)
    if chosen:
        out["chosen"] = tuple(chosen)
    return out


def _training(summary: dict, params: dict) -> dict:
    """Epochs run, the best validation loss and its epoch (counted from 1), and
    whether early stopping ended the training (of the first member, for an
    ensemble)."""
    epochs, best = summary.get("epochs"), summary.get("best_val_loss")
    out = {"epochs": epochs}
    if best is None:
        out["validation"] = "none: trained every epoch"
        return out
    out["best_val_loss"] = float(best)
    best_epoch = summary.get("best_epoch")  # counted from 0 in training_summary_
    out["best_epoch"] = None if best_epoch is None else best_epoch + 1
    patience, most = params.get("patience"), params.get("max_epochs")
    out["early_stopped"] = bool(patience is not None and epochs is not None
                                and most is not None and epochs < most)
    return out


def _plain(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return f"{value:,}"
    if isinstance(value, list):
        shown = ", ".join(str(v) for v in value[:8])
        return (shown + f", ... ({len(value)})") if len(value) > 8 else (shown or "none")
    return str(value)
