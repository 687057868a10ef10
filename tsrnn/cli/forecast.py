"""``tsrnn forecast``: forecast the steps after the end of each series of a CSV file."""

from __future__ import annotations

from pathlib import Path

from tsrnn.cli._config import _training_flags
from tsrnn.cli._engine import engine_options, for_each_file
from tsrnn.cli._options import (
    _floats,
    column_options,
    common_options,
    file_arguments,
    positive_int,
    training_options,
)
from tsrnn.cli._runs import (
    _fit,
    _prepare,
    _read,
    _regular,
    _Run,
    _save_figure,
    _summary,
    _times,
    _use,
    _write_frame,
)

EXAMPLES = """\
examples (on the sample data; `tsrnn datasets list` shows it):
  tsrnn datasets export sensors-wide sensors-wide.csv    # 4 hourly sensors
  tsrnn forecast sensors-wide.csv --target sensor_1 --horizon 24 --cell gru \\
      --quantiles 0.1,0.5,0.9 --out forecast.csv --plot forecast.png --save-model s1.tsrnn
  tsrnn forecast sensors-wide.csv --model s1.tsrnn --out forecast.csv     # no training
  tsrnn datasets export sensors sensors.csv      # the same sensors, one row per reading
  tsrnn forecast sensors.csv --id-col sensor --target value --holdout --plot check.png \\
      --out check.csv       # forecast the last --horizon steps and draw the actuals
  mkdir -p csvs && cp sensors-wide.csv csvs/     # a folder of CSV files
  tsrnn forecast csvs/ --target sensor_1 --out forecasts/   # one output per input file
  tsrnn forecast sensors-wide.csv --target sensor_1 --set model=seq2seq \\
      --set segment_len=1 --out forecast.csv --plot-attention attention.png
"""


def add_parser(command) -> None:
    """Add ``tsrnn forecast`` through ``command`` (:func:`add_command` bound to the
    subparsers)."""
    parents = [common_options(), column_options(), training_options(), engine_options()]
    p = command("forecast", "Forecast the steps after the end of each series of a CSV file "
                "(or of every CSV file in a folder).", parents, EXAMPLES)
    file_arguments(
        p, out="forecast CSV ('-': standard output); a folder for a folder of inputs",
        model="forecast with this saved model: no training",
        save_model="save the trained model (a folder for a folder of inputs)",
        plot="draw history, forecast, quantile band and actuals to this PNG (a folder for "
        "a folder of inputs)")
    p.add_argument("--plot-attention", type=Path, metavar="PNG", help="seq2seq models with "
                   "attention: draw which input steps each forecast step attends to (the "
                   "first series; a folder for a folder of inputs)")
    p.add_argument("--holdout", action="store_true", help="hold out the last horizon steps "
                   "of each series, forecast them and add <target>_actual columns")
    g = p.add_argument_group("forecaster")
    g.add_argument("--input-len", type=positive_int,
                   help="steps of history each forecast sees (default: a few seasons of the "
                   "data's frequency, cut to fit the shortest series)")
    g.add_argument("--horizon", type=positive_int,
                   help="steps to forecast (default: M4's for the data's frequency: monthly "
                   "18, weekly 13, daily 14, hourly 48, ...)")
    g.add_argument("--quantiles", type=_floats, metavar="Q[,Q...]",
                   help="forecast these quantiles, e.g. 0.1,0.5,0.9")
    p.set_defaults(run=run_forecast)


def run_forecast(args) -> int:
    """``tsrnn forecast``: train (or load) a forecaster and forecast each file."""
    flags = _training_flags(args, input_len=args.input_len, horizon=args.horizon,
                            quantiles=args.quantiles)
    run = _prepare(args, "forecast", flags)
    results = for_each_file(run, _forecast_file, "forecasting")
    for r in results:
        if r["result"] == "ok" and not run.folder:
            run.say(f"wrote {r['detail']} ({r['rows']} rows)")
    return _summary(run, results, ["rows"])


def _forecast_file(run: _Run, path: Path) -> dict:
    from tsrnn import Forecaster
    args = run.args
    df = _read(run, path)
    model = run.model
    history, held = df, None
    if args.holdout:
        id_col = model.roles_["id_col"] if model else run.columns["id_col"]
        horizon = model.horizon_ if model else _horizon(Forecaster(**run.params), df, run.columns)
        history, held = _split_last(df, id_col, horizon)
    if model is None:
        run.say(f"training a forecaster on {path} ({len(history):,} rows)")
        model = _regular(run, path, lambda extra: _fit(
            Forecaster(**{**run.params, **extra}), history, run.columns,
            progress=not (args.quiet or run.folder)))
    forecast = _regular(run, path, lambda extra: _use(model, extra,
                                                      lambda m: m.predict(history)))
    if held is not None:
        forecast = _with_actuals(forecast, held, model)
    written = _write_frame(run, forecast, args.out, path, ".csv")
    if args.plot is not None:
        from tsrnn.plotting import plot_forecast

        roles = model.roles_
        fig = plot_forecast(forecast, _history_frame(history, model),
                            target=model.target_names_[0],
                            time_col=roles["time_col"] or "timestamp", id_col=roles["id_col"],
                            history_len=3 * model.horizon_)
        _save_figure(fig, run.output(args.plot, path, ".png"))
    if args.plot_attention is not None:
        if model.model != "seq2seq" or model.attention is None:
            raise ValueError("--plot-attention needs a seq2seq model with attention "
                             "(--set model=seq2seq)")
        from tsrnn.plotting import plot_attention

        _save_figure(plot_attention(model, history),
                     run.output(args.plot_attention, path, ".attention.png"))
    if args.save_model is not None:
        model.save(run.output(args.save_model, path, ".tsrnn"))
    return {"rows": len(forecast), "detail": written}


def _split_last(df, id_col, n: int):
    """``df`` without the last ``n`` rows of each series, and those rows."""
    from tsrnn.data import DataError

    if id_col is not None and id_col not in df:
        raise DataError(f"id column {id_col!r} not found; columns are {list(df.columns)}")
    sizes = df.groupby(id_col, sort=False).size() if id_col is not None else {None: len(df)}
    for sid, size in sizes.items():
        if size <= n:  # all held out: the series would vanish from the forecast unsaid
            which = "the series" if sid is None else f"series {sid!r}"
            raise DataError(f"{which} has {size} rows: --holdout holds out the last {n} of "
                            "each series, and leaves it no history to forecast from")
    if id_col is None:
        return df.iloc[:-n], df.iloc[-n:]
    last = df.groupby(id_col, sort=False).cumcount(ascending=False) < n
    return df[~last], df[last]


def _with_actuals(forecast, held, model):
    """The forecast with ``<target>_actual`` columns from the held-out rows."""
    roles = model.roles_
    time_name = roles["time_col"] or "timestamp"
    keys = [k for k in (roles["id_col"], time_name) if k is not None]
    actual = held[[c for c in (roles["id_col"],) if c is not None] + model.target_names_].copy()
    actual[time_name] = _times(held, model)
    actual = actual.rename(columns={t: f"{t}_actual" for t in model.target_names_})
    return forecast.merge(actual, on=keys, how="left")


def _history_frame(df, model):
    """The observed rows, with the forecast's column names and parsed timestamps."""
    import pandas as pd

    roles = model.roles_
    frame = pd.DataFrame({t: df[t].to_numpy() for t in model.target_names_})
    if roles["id_col"] is not None:
        frame.insert(0, roles["id_col"], df[roles["id_col"]].to_numpy())
    frame.insert(0, roles["time_col"] or "timestamp", _times(df, model))
    return frame


def _horizon(model, df, columns: dict) -> int:
    """The horizon ``model`` will fit with on ``df``: ``"auto"`` resolved by
    :func:`tsrnn.auto.frequency_rule` from the data's frequency."""
    if model.horizon != "auto":
        return int(model.horizon)
    from tsrnn.auto import frequency_rule
    from tsrnn.data import SeriesData

    data = SeriesData.from_dataframe(df, **columns, fill=model.fill, resample=model.resample,
                                     freq=model.freq)
    return frequency_rule(data.freq)[1]
