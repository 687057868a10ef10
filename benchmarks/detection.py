"""Anomaly detection on every labelled set in ../shared/data, tsrnn beside the baselines.

Datasets and protocols (every score is online: a row is scored from the rows up
to it, by a detector fitted on earlier rows only):

- ``nab``: the 28 NAB series. Fitted on each file's probationary period (its
  first min(15%, 750) rows), scored on the rest; the per-row labels are NAB's
  windows. Also NAB's own score (threshold optimised over the files), the score
  of each half of the files (alternate files, ``NAB even`` and ``NAB odd``, each
  at its own threshold: a setting chosen on one is scored on the other), and the
  threshold-transfer check: the NAB threshold optimised on half the files and
  applied to the other half, both ways.
- ``skab``: the 16 SKAB valve1 experiments, SKAB's protocol: fitted on each
  file's first 400 rows, the rest scored per row.
- ``skab-free``: the same 16 files scored whole by a detector fitted on
  ``anomaly-free.csv``.
- ``sensors``: the bundled sensor data, fitted on the first 30% of every sensor
  (nothing is injected there), the rest scored.
- ``nab-blips`` (not in the default run): a probe of point anomalies, as a server
  KPI has them. NAB's files and protocol, with five blips of 1 to 3 steps
  (``--blip-size`` training spreads, default 4) injected outside NAB's windows,
  which are not scored; the blips are the labels. Synthetic: reported, never
  used to choose a default.

Ranking metrics (ROC-AUC, PR-AUC, VUS-PR, best F1) are per file, then averaged
over the files with an anomaly. At each detector's own ``threshold_`` (fitted at
fit on the training frame, see ``threshold``), range precision and recall (Tatbul et al.) per file,
averaged, and for SKAB the leaderboard's F1, false-alarm rate (FAR) and
missed-alarm rate (MAR) over all scored rows pooled. On the sensors, the share of
each anomaly kind's incidents caught at a 1% false-alarm rate on the normal rows.
The SKAB threshold transfer scores experiment k+1 at the threshold fitted on
experiment k's normal rows.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/detection.py [--datasets nab,skab]
        [--seed 0] [--files 4] [--tsrnn "name:param=value,param=value"] [--only tsrnn]
        [--mean "name:a+b+c"] [--cache DIR] [--finetune EPOCHS [--finetune-fixed]]
        [--no-level-check]

``--tsrnn`` adds a tsrnn configuration (repeatable; the default row is
``AnomalyDetector()`` as shipped); configurations that differ only in
post-processing share one fit. ``window=16+32+64`` there is an ensemble whose
members have those window lengths, one network each, scored as the ensemble
scores (its members' squared errors averaged, then scaled, smoothed and
thresholded as one detector's; see :func:`_fit_mixed`).
``members=reconstruction+forecast`` likewise mixes the networks of fits with
those scores (:func:`_fit_scores`). ``--mean`` differs: it averages finished
scores and thresholds, each from its own error scales.

``--finetune EPOCHS`` adds, for each tsrnn configuration, a row ``NAME ft``: the
same fitted networks, fine-tuned online as the scored part goes on (every
``len(train)`` rows, on the rows seen so far that the first configuration
scored at or below its threshold, then the error scales and ``threshold_``
learnt anew from the rows seen so far, as fit does, unless ``--finetune-fixed``
keeps those learnt at fit); see :func:`finetuned_online`.

``--no-level-check`` adds, for each tsrnn configuration, a row ``NAME no
level``: the same fitted detector's scores without the level check
(:mod:`tsrnn.level`), as before it.

On the sensors, each kind's incidents caught are also counted at each sensor's
own 1% false-alarm rate (``KIND @1%/sensor``), and a note under the table says
whose normal rows set the one 1% threshold (:func:`false_alarms_by_series`).
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
# Parameters that change only the post-processing of a fitted detector's errors, so
# configurations differing in them share a fit. (Not likelihood_window nor
# likelihood_average: the likelihood's prior is fitted with them. normalize_errors
# is exact for ranking scores; the alerting prior was fitted on the normalised
# errors.)
POST = {"alerts", "smoothing", "drift_window", "drift_quantile", "normalize_errors",
        "likelihood_history", "cooldown", "range_tolerance", "contamination", "threshold",
        "risk"}
# Parameters the networks do not read: a configuration differing in them gets its
# own fit (learnt anew on a cached file's networks), but shares the cached file.
SCORING_ONLY = POST | {"likelihood_window", "likelihood_average"}


@dataclass
class Case:
    """One file of a dataset: what to fit on, what to score, and the truth."""

    name: str
    train: pd.DataFrame
    test: pd.DataFrame  # scored whole, online; `scored` rows are evaluated
    scored: np.ndarray  # bool [len(test)]
    labels: np.ndarray  # 0/1 [len(test)]
    fit_kwargs: dict
    params: dict = field(default_factory=dict)  # extra detector parameters the data needs
    times: pd.DatetimeIndex | None = None  # NAB: for its score
    windows: list | None = None
    kinds: np.ndarray | None = None  # the sensors: each row's anomaly kind ("" if none)


def nab_cases(root: Path, files: int | None) -> list[Case]:
    from tsrnn.datasets import load_nab, load_nab_labels, nab_files
    from tsrnn.metrics import windows_to_labels

    path = root / "nab"
    names = nab_files(path)[:files]
    windows = load_nab_labels(names, path=path)
    cases = []
    for name in names:
        frame = load_nab(name, path=path)
        # Two AWS files repeat a timestamp 11 times (a clock change); NAB's scorer
        # needs increasing timestamps, so keep the first row of each.
        frame = frame[~frame["timestamp"].duplicated()].reset_index(drop=True)
        n = len(frame)
        first = math.ceil(min(math.floor(0.15 * n), 0.15 * 5000))
        times = pd.DatetimeIndex(frame["timestamp"])
        scored = np.arange(n) >= first
        cases.append(Case(name, frame.iloc[:first], frame, scored,
                          windows_to_labels(times, windows[name]),
                          dict(time_col="timestamp", target="value"),
                          # some files skip timestamps: score on the regular grid
                          dict(resample=True, fill="interpolate"), times, windows[name]))
    return cases


BLIPS_PER_FILE = 5


def with_blips(case: Case, size: float, rng: np.random.Generator) -> Case:
    """``case`` (a NAB file) with :data:`BLIPS_PER_FILE` blips of 1 to 3 steps, each
    ``size`` times the training rows' spread up or down (their interquartile range
    or standard deviation, whichever is larger), placed at random in the scored rows
    outside NAB's windows, 50 rows clear of them and 100 of each other. The blips
    are the labels; NAB's windows are not scored."""
    values = case.test["value"].to_numpy(dtype=np.float64).copy()
    train = case.train["value"].to_numpy(dtype=np.float64)
    q1, q3 = np.quantile(train, [0.25, 0.75])
    spread = max(q3 - q1, train.std()) or 0.05 * max(abs(train.mean()), 1.0)  # flat: 5%
    free = case.scored & (case.labels == 0)
    labels = np.zeros(len(values), dtype=np.int64)
    placed, tries = 0, 0
    while placed < BLIPS_PER_FILE and tries < 200:
        tries += 1
        at, steps = int(rng.choice(np.flatnonzero(free))), int(rng.integers(1, 4))
        if (at + steps + 50 >= len(values) or not free[max(at - 50, 0):at + steps + 50].all()
                or labels[max(at - 100, 0):at + 100].any()):
            continue
        values[at:at + steps] += rng.choice([-1.0, 1.0]) * size * spread
        labels[at:at + steps] = 1
        placed += 1
    test = case.test.assign(value=values)
    return Case(case.name, case.train, test, free | (labels == 1), labels, case.fit_kwargs,
                case.params, case.times)


def blip_cases(root: Path, files: int | None, seed: int, size: float) -> list[Case]:
    """``nab-blips``: NAB's files with KPI-like point anomalies (:func:`with_blips`),
    each file's from its own seeded generator. A probe, not a labelled set: it
    shows how point anomalies rank (the issue's held-out server KPIs had a few
    3-point blips each); no default is chosen on it."""
    return [with_blips(c, size, np.random.default_rng([seed, k]))
            for k, c in enumerate(nab_cases(root, files))]


def _skab_frame(frame: pd.DataFrame) -> pd.DataFrame:
    # SKAB's clock jitters by a second or two around its 1 s step: the rows, not
    # the timestamps, are the sampling grid (as SKAB's own baselines read it).
    return frame.drop(columns=["datetime", "anomaly", "changepoint"], errors="ignore"
                      ).reset_index(drop=True)


def skab_cases(root: Path, files: int | None, free: bool) -> list[Case]:
    from tsrnn.datasets import load_skab, skab_files

    path = root / "skab"
    names = [n for n in skab_files(path) if n.startswith("valve1/")][:files]
    normal = _skab_frame(load_skab("anomaly-free.csv", path=path)) if free else None
    cases = []
    for name in names:
        frame = load_skab(name, path=path)
        labels = frame["anomaly"].to_numpy(dtype=np.int64)
        test = _skab_frame(frame)
        if free:
            cases.append(Case(name, normal, test, np.ones(len(test), bool), labels, {}))
        else:  # SKAB's protocol: the first 400 rows are normal and train
            cases.append(Case(name, test.iloc[:400], test, np.arange(len(test)) >= 400,
                              labels, {}))
    return cases


def sensor_cases() -> list[Case]:
    from tsrnn.datasets import load_sensors

    df = load_sensors()
    frame = df[["timestamp", "sensor", "value"]]
    cut = df.groupby("sensor")["timestamp"].transform(
        lambda t: t.iloc[int(0.3 * len(t))])  # nothing is injected before 30%
    train = frame[df["timestamp"] < cut]
    return [Case("sensors", train, frame, (df["timestamp"] >= cut).to_numpy(),
                 df["is_anomaly"].to_numpy(dtype=np.int64),
                 dict(time_col="timestamp", id_col="sensor", target="value"),
                 kinds=df["anomaly_kind"].fillna("").astype(str).to_numpy())]


def kind_recall(case: Case, scores: np.ndarray, threshold: float,
                per_series: bool = False) -> dict:
    """Per anomaly kind: the share of its incidents (runs of labelled rows) with a
    row above the threshold that flags 1% of the normal scored rows (the same
    false-alarm rate for every detector; ``threshold`` is not used); with
    ``per_series``, 1% of each series' own (the sensors' ``sensor`` column)."""
    normal = case.scored & (case.labels == 0)
    groups = (case.test["sensor"].to_numpy() if per_series
              else np.zeros(len(scores), dtype=np.int64))
    hit = np.zeros(len(scores), dtype=bool)
    for g in np.unique(groups):
        mine = groups == g
        hit[mine] = scores[mine] > np.quantile(scores[normal & mine], 0.99)
    found: dict = {}
    edges = np.flatnonzero(np.diff(np.r_[0, case.labels, 0]))  # run starts and ends
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if case.scored[a:b].any():
            found.setdefault(case.kinds[a], []).append(bool(hit[a:b].any()))
    return {kind: float(np.mean(v)) for kind, v in sorted(found.items())}


def false_alarms_by_series(case: Case, scores: np.ndarray) -> str:
    """Per sensor: how many of the normal scored rows above the 1% threshold of
    :func:`kind_recall` are its, and the median score of its normal rows in the
    first and the last fifth of its scored rows (where one threshold for every
    sensor comes from)."""
    normal = case.scored & (case.labels == 0)
    above = normal & (scores > np.quantile(scores[normal], 0.99))
    parts = []
    for sensor in np.unique(case.test["sensor"]):
        mine = np.flatnonzero(normal & (case.test["sensor"].to_numpy() == sensor))
        first, last = np.array_split(scores[mine], 5)[0], np.array_split(scores[mine], 5)[-1]
        parts.append(f"{sensor} {int(above[mine].sum())} ({np.median(first):.1f} to "
                     f"{np.median(last):.1f})")
    return ", ".join(parts)


def baselines(seed: int) -> dict:
    from tsrnn import baselines as b

    return {"z-score sum": lambda **p: b.ZScoreDetector(**p),
            "abs diff": lambda **p: b.DiffDetector(**p),
            "rolling z-score": lambda **p: b.RollingZScoreDetector(**p),
            "isolation forest": lambda **p: b.IsolationForestDetector(random_state=seed, **p),
            "PCA T2+Q": lambda **p: b.PCADetector(**p)}


def parse_config(text: str) -> tuple[str, dict]:
    """``"name:a=1,b=x"`` -> ("name", {"a": 1, "b": "x"})."""
    name, _, rest = text.partition(":")
    params = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return name, params


def _cached(case: Case, det, cache: Path) -> Path:
    """Where ``det``'s fit on ``case.train`` is kept: a name made of the training
    rows, the parameters and the seed (not those that change only the scoring)."""
    params = sorted((k, v) for k, v in det.get_params().items() if k not in SCORING_ONLY)
    key = hashlib.sha256(pd.util.hash_pandas_object(case.train).to_numpy().tobytes()
                         + repr((params, case.fit_kwargs)).encode()).hexdigest()[:20]
    return cache / f"{key}.pt"


def _scoring_of(det) -> dict:
    """``det``'s parameters that only score (set on a cached fit as configured)."""
    return {k: v for k, v in det.get_params().items() if k in SCORING_ONLY}


def _fit_tsrnn(case: Case, model: dict, seed: int, cache: Path | None):
    """A detector fitted on ``case.train``; with ``cache``, saved there (see
    :func:`_cached`) and loaded from there next time (fitting is nearly all the
    benchmark's time). ``window="16+32+64"``: see :func:`_fit_mixed`."""
    from tsrnn import AnomalyDetector

    if "members" in model:
        return _fit_scores(case, model, seed, cache)
    if isinstance(model.get("window"), str):
        return _fit_mixed(case, model, seed, cache)
    det = AnomalyDetector(random_state=seed, **case.params, **model)
    if cache is None:
        return det.fit(case.train, **case.fit_kwargs)
    path = _cached(case, det, cache)
    if path.exists():  # the networks as trained; what fit learns from their errors, anew
        # (the scoring as configured today: a file saved before a new scoring
        # parameter loads with it off, as any older model file does)
        det = AnomalyDetector.load(path).set_params(**_scoring_of(det))
        data = det._read(case.train)
        det._learn_scoring(data, det._inputs(data, det._scaled(data)), det._train_end(data))
        return det
    det.fit(case.train, **case.fit_kwargs)
    cache.mkdir(parents=True, exist_ok=True)
    det.save(path)
    return det


def _fit_mixed(case: Case, model: dict, seed: int, cache: Path | None):
    """An ensemble whose members have other window lengths (``window="16+32+64"``,
    one member each, ``n_models`` ignored), built from single networks: member
    ``k`` is the network a fit with ``window=w_k, n_models=1,
    random_state=member_seed(seed, k)`` trains (the member ``k`` of a cached
    ``n_models=3`` fit at that window, where there is one). As the ensemble
    does, the members' squared errors are averaged, then scaled, smoothed and
    thresholded as one detector's (:class:`_MixedWindows`); a step is scored once
    every member has an error for it. ``scale_members=True``: each member's
    errors are first divided by its own error scales (learnt on its own errors,
    as fit learns them), so that no window's errors weigh more for being larger."""
    from tsrnn import AnomalyDetector
    from tsrnn.base import member_seed

    windows = [int(w) for w in model["window"].split("+")]
    rest = {k: v for k, v in model.items() if k not in ("window", "n_models",
                                                         "scale_members")}
    members = []
    for k, w in enumerate(windows):
        whole = AnomalyDetector(random_state=seed, **case.params, **rest, window=w)
        if cache is not None and _cached(case, whole, cache).exists():
            member = AnomalyDetector.load(_cached(case, whole, cache)).set_params(
                **_scoring_of(whole))
            member.net_, member.n_models = member.net_.members[k], 1
        else:
            member = _fit_tsrnn(case, {**rest, "window": w, "n_models": 1},
                                member_seed(seed, k), cache)
        members.append(member)
    # the longest window hosts: its warm-up is the ensemble's
    return _mixed(case, members, members[int(np.argmax(windows))], model)


def _fit_scores(case: Case, model: dict, seed: int, cache: Path | None):
    """An ensemble of the networks of fits with other scores
    (``members="reconstruction+forecast"``): every member of the ``n_models``
    fit with each ``score`` (cached as :func:`_fit_tsrnn` caches it, so the
    reconstruction members are the default fit's networks), scored as
    :func:`_fit_mixed` scores its members, with ``scale_members`` likewise."""
    scores = model["members"].split("+")
    rest = {k: v for k, v in model.items() if k not in ("members", "scale_members")}
    members = []
    for score in scores:
        whole = _fit_tsrnn(case, {**rest, "score": score}, seed, cache)
        for net in getattr(whole.net_, "members", [whole.net_]):
            member = copy.deepcopy(whole)
            member.net_, member.n_models = net, 1
            members.append(member)
    # a forecast host would take its online errors for the offline ones
    host = next((m for m in members if m.score == "reconstruction"), members[0])
    return _mixed(case, members, host, model)


def _mixed(case: Case, members: list, host, model: dict):
    """``host`` (a copy) scoring with the mean of ``members``' errors
    (:class:`_MixedWindows`), its scales and threshold learnt on ``case.train``."""
    data = members[0]._read(case.train)
    inputs = members[0]._inputs(data, members[0]._scaled(data))
    for member in members[1:]:  # the members share one input: it must be theirs
        if not np.array_equal(member._inputs(data, member._scaled(data)), inputs):
            raise ValueError("mixed members read their inputs differently (scaler or calendar)")
    if model.get("scale_members"):
        for member in members:
            member._learn_scoring(data, inputs, member._train_end(data))
    host = copy.deepcopy(host)
    host.__class__, host.members_ = _MixedWindows, members
    host.scale_members_ = bool(model.get("scale_members"))
    host._learn_scoring(data, inputs, host._train_end(data))
    return host


def _mixed_windows_class():
    from tsrnn import AnomalyDetector

    class MixedWindows(AnomalyDetector):
        """A detector scoring with its ``members_``' mean squared errors."""

        def _step_errors(self, data, inputs, online):
            parts = [m._step_errors(data, inputs, online) for m in self.members_]
            if self.scale_members_:
                parts = [(m._normalised(e, data, online), v)
                         for m, (e, v) in zip(self.members_, parts, strict=True)]
            return (np.mean([e for e, _ in parts], axis=0),
                    np.logical_and.reduce([v for _, v in parts]))

        def _normalised(self, errors, data, online):
            # members already scaled: the ensemble's own scales (and their floor,
            # a share of the targets' variance) would rescale them again
            return errors if self.scale_members_ else super()._normalised(errors, data, online)

    return MixedWindows


_MixedWindows = _mixed_windows_class()


def score_case(case: Case, configs: dict, only: set | None, seed: int, fitted: dict,
               cache: Path | None = None, finetune: int = 0, relearn: bool = True) -> dict:
    """{detector: (scores [len(test)], threshold)} for one case. ``fitted`` keeps
    the detectors fitted on a training frame for the next case with the same one."""
    from tsrnn import AnomalyDetector

    out = {}
    for name, params in configs.items():
        model = {k: v for k, v in params.items() if k not in POST}
        key = (id(case.train), repr(sorted(model.items())))
        if key not in fitted:
            fitted[key] = _fit_tsrnn(case, model, seed, cache)
        post = {k: v for k, v in params.items() if k in POST}
        det = fitted[key].set_params(**post)
        scores, threshold = _online(det, case)
        if post:  # threshold_ was fitted under the fit's post-processing: redo it
            kept = det.threshold_, det.decision_scores_, det.labels_, det.threshold_scoring_
            threshold = det.fit_threshold(case.train).threshold_
            det.threshold_, det.decision_scores_, det.labels_, det.threshold_scoring_ = kept
        out[name] = scores, threshold
        det.set_params(**{k: AnomalyDetector().get_params()[k] for k in post})
    if finetune:  # each fit once, fine-tuned on the rows its first configuration passed
        shared: dict = {}
        for name, params in configs.items():
            model = {k: v for k, v in params.items() if k not in POST}
            shared.setdefault(repr(sorted(model.items())), {})[name] = {
                k: v for k, v in params.items() if k in POST}
        for key, posts in shared.items():
            runs = finetuned_online(fitted[(id(case.train), key)], case, list(posts.values()),
                                    finetune, seed, relearn=relearn)
            out.update({f"{name} ft": r for name, r in zip(posts, runs, strict=True)})
    for name, make in baselines(seed).items():
        if only and name not in only:
            continue
        key = (id(case.train), name)
        if key not in fitted:
            fitted[key] = make(**case.params).fit(case.train, **case.fit_kwargs)
        out[name] = _online(fitted[key], case)
    return out


def finetuned_online(det, case: Case, posts: list[dict], epochs: int, seed: int,
                     lr: float = 1e-4, relearn: bool = True
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Scores of ``case.test`` by a copy of ``det`` fine-tuned as the scored part
    goes on, once per post-processing in ``posts``: [(scores, threshold per row)].

    Every ``len(case.train)`` scored rows, each network is trained ``epochs``
    epochs more (Adam at ``lr``, a tenth of fit's) on the windows of the rows seen
    so far, leaving out any window holding a row that ``posts[0]`` scored above
    its threshold (anomalies are not learnt as normal) and the last rows, on
    which the error scales are measured anew with the threshold (as fit holds
    out its validation rows; with ``relearn=False`` they stay those learnt on the
    training rows); the next rows are scored by the updated detector. The value
    range stays the one fitted."""
    import torch

    from tsrnn import AnomalyDetector
    from tsrnn.data import make_loader
    from tsrnn.nn import MeanEnsemble

    if det.score != "reconstruction" or det.stateful:
        raise ValueError("--finetune: only the windowed autoencoder (score='reconstruction')")
    det = copy.deepcopy(det)
    nets = list(det.net_.members) if isinstance(det.net_, MeanEnsemble) else [det.net_]
    first, n = len(case.train), len(case.test)
    runs = [(np.zeros(n), np.zeros(n)) for _ in posts]
    alarm = np.zeros(n, dtype=bool)  # rows scored above the threshold by posts[0]
    torch.manual_seed(seed)
    reset = {k: AnomalyDetector().get_params()[k] for post in posts for k in post}
    fitted: dict = {}  # the threshold_ learnt last for each post-processing
    for start in range(first, n, first):
        seen = case.test.iloc[:start]
        data = det._read(seen)
        inputs = det._inputs(data, det._scaled(data))
        if start > first:
            bad = alarm[:start]
            if case.params.get("resample"):  # file rows -> the regular grid
                bad = pd.Series(bad, case.times[:start]).reindex(
                    data.times, method="nearest").to_numpy()
            w, end = det.window, int(det._train_end(data)[0])
            clean = np.convolve(bad.astype(float), np.ones(w), "valid") == 0  # [start - w + 1]
            starts = np.flatnonzero(clean[:end - w + 1])
            loader = make_loader(det._windows(data, inputs, starts), det.batch_size,
                                 shuffle=True, seed=seed)
            for net in nets:
                net.train()
                opt = torch.optim.Adam(net.parameters(), lr=lr)
                for _ in range(epochs):
                    for batch in loader:
                        loss = torch.nn.functional.mse_loss(net(batch.inputs), batch.inputs)
                        opt.zero_grad()
                        loss.backward()
                        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                        opt.step()
                net.eval()
        stop = min(start + first, n)
        for k, ((scores, thresholds), post) in enumerate(zip(runs, posts, strict=True)):
            det.set_params(**(reset | post))
            if relearn or start == first:
                det._learn_scoring(data, inputs, det._train_end(data))
                fitted[k] = det.threshold_, det.threshold_scoring_
            det.threshold_, det.threshold_scoring_ = fitted[k]  # each post-processing's
            part = Case(case.name, seen, case.test.iloc[:stop], case.scored[:stop],
                        case.labels[:stop], {}, case.params,
                        None if case.times is None else case.times[:stop])
            scores[start:stop] = _online(det, part)[0][start:]
            thresholds[start:stop] = det.threshold_
        alarm[start:stop] = runs[0][0][start:stop] > runs[0][1][start:stop]
    return runs


def without_level_check(case: Case, configs: dict, fitted: dict,
                        results: dict) -> dict:
    """{"NAME no level": (scores, threshold)}: each tsrnn configuration's online
    scores with the level check off (:mod:`tsrnn.level`; the threshold of
    ``results``, which the check does not move: the training rows are inside
    their own levels)."""
    from tsrnn import AnomalyDetector

    out = {}
    for name, params in configs.items():
        model = {k: v for k, v in params.items() if k not in POST}
        post = {k: v for k, v in params.items() if k in POST}
        det = fitted[(id(case.train), repr(sorted(model.items())))].set_params(**post)
        kept, det.level_range_ = det.level_range_, None  # as a file from before it
        out[f"{name} no level"] = _online(det, case)[0], results[name][1]
        det.level_range_ = kept
        det.set_params(**{k: AnomalyDetector().get_params()[k] for k in post})
    return out


def _online(det, case: Case) -> tuple[np.ndarray, float]:
    scores = det.decision_function(case.test, online=True)
    if case.params.get("resample"):  # back from the grid to the file's timestamps
        scores = scores.reindex(case.times, method="nearest")
    return scores.to_numpy(dtype=np.float64), float(det.threshold_)


def case_metrics(case: Case, scores: np.ndarray, threshold: float) -> dict:
    from tsrnn.metrics import best_f1, pr_auc, range_precision_recall, roc_auc, vus_pr

    y, s = case.labels[case.scored], scores[case.scored]
    row = {}
    if y.any() and not y.all():
        row = {"ROC-AUC": roc_auc(y, s), "PR-AUC": pr_auc(y, s), "VUS-PR": vus_pr(y, s),
               "best F1": best_f1(y, s)[0]}
        t = np.broadcast_to(threshold, scores.shape)[case.scored]  # fine-tuned: per row
        p, r = range_precision_recall(y, (s > t).astype(int))
        row.update({"range P": p, "range R": r})
    return row


def pooled_alarm_metrics(cases: list[Case], results: dict) -> dict:
    """SKAB's F1, FAR and MAR at the detector's threshold, every scored row pooled."""
    y = np.concatenate([c.labels[c.scored] for c in cases])
    hit = np.concatenate([r[0][c.scored] > np.broadcast_to(r[1], r[0].shape)[c.scored]
                          for c, r in zip(cases, results, strict=True)])
    tp, fp = (hit & (y == 1)).sum(), (hit & (y == 0)).sum()
    fn, tn = (~hit & (y == 1)).sum(), (~hit & (y == 0)).sum()
    f1 = 2 * tp / max(2 * tp + fp + fn, 1)
    return {"F1": f1, "FAR": fp / max(fp + tn, 1), "MAR": fn / max(fn + tp, 1)}


def nab_scores(cases: list[Case], results: dict) -> dict:
    from tsrnn.metrics import nab_benchmark

    runs = {c.name: (c.times, r[0], c.windows) for c, r in zip(cases, results, strict=True)}
    return {p: nab_benchmark(runs, profile=p) for p in ("standard", "reward_low_FP",
                                                        "reward_low_FN")}


def _moved(cases: list[Case], results: list, groups: list[list[int]]) -> tuple[list, list]:
    """For each of the two ``groups`` of files (indices into ``cases``), its NAB
    standard score at the threshold optimised on the other group, and at its own."""
    from tsrnn.metrics import nab_benchmark, nab_score

    def runs(idx):
        return {cases[i].name: (cases[i].times, results[i][0], cases[i].windows) for i in idx}

    got, own = [], []
    for fit_on, apply_to in (groups, groups[::-1]):
        threshold = nab_benchmark(runs(fit_on))["threshold"]
        target = nab_benchmark(runs(apply_to))
        raw = sum(nab_score(t, s, w, threshold=threshold) for t, s, w in runs(apply_to).values())
        null, perfect = target["null"], target["perfect"]
        got.append(100 * (raw - null) / (perfect - null))
        own.append(target["score"])
    return got, own


def nab_transfer(cases: list[Case], results: list) -> dict:
    """NAB standard scores of the two halves of the files (alternate files: "NAB
    even" from the first, "NAB odd"), each at its own optimised threshold, and
    "NAB moved": each half at the threshold optimised on the other, against "NAB
    own", the same halves in-sample (each the mean of the two halves). Choosing
    a setting on one half and scoring it on the other reads the first two.

    Where the files hold both NAB's synthetic (``artificial*``) and real
    categories, also "NAB art->real" and "NAB real->art": each side at the
    threshold optimised on the other, the nearest the 28 files come to NAB's
    categories they do not hold; and "NAB real own", "NAB art own" in-sample."""
    halves = [list(range(0, len(cases), 2)), list(range(1, len(cases), 2))]
    got, own = _moved(cases, results, halves)
    out = {"NAB even": own[1], "NAB odd": own[0], "NAB moved": float(np.mean(got)),
           "NAB own": float(np.mean(own))}
    synthetic = [i for i, c in enumerate(cases) if c.name.startswith("artificial")]
    real = [i for i in range(len(cases)) if i not in synthetic]
    if all(any(cases[i].windows for i in side) for side in (synthetic, real)):
        got, own = _moved(cases, results, [synthetic, real])
        out.update({"NAB art->real": got[0], "NAB real own": own[0],
                    "NAB real->art": got[1], "NAB art own": own[1]})
    return out


def skab_transfer(cases: list[Case], results: list) -> dict:
    """F1/FAR/MAR of experiment k+1 scored at experiment k's fitted threshold."""
    moved = [(results[k + 1][0], np.ravel(results[k][1])[-1])  # fine-tuned: the last
             for k in range(len(cases) - 1)]
    return pooled_alarm_metrics(cases[1:], moved)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--datasets", default="nab,skab,skab-free,sensors")
    parser.add_argument("--files", type=int, default=None, help="only the first N files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tsrnn", action="append", default=[],
                        help="name:param=value,... a tsrnn configuration to add")
    parser.add_argument("--no-default", action="store_true",
                        help="leave out the default AnomalyDetector() row")
    parser.add_argument("--only", default=None,
                        help="comma-separated baselines to run (default: all; 'none': none)")
    parser.add_argument("--json", type=Path, default=None, help="write the table here")
    parser.add_argument("--mean", action="append", default=[],
                        help="name:a+b+c adds the mean of configurations a, b and c's "
                        "scores (and thresholds), e.g. of several window lengths")
    parser.add_argument("--cache", type=Path, default=None,
                        help="keep fitted tsrnn models in this folder and reuse them")
    parser.add_argument("--finetune", type=int, default=0, metavar="EPOCHS",
                        help="also score each tsrnn configuration fine-tuned online, "
                        "EPOCHS epochs every len(train) scored rows")
    parser.add_argument("--finetune-fixed", action="store_true",
                        help="with --finetune: keep the error scales and threshold_ "
                        "learnt at fit")
    parser.add_argument("--blip-size", type=float, default=4.0,
                        help="nab-blips: each blip's size, in training spreads")
    parser.add_argument("--no-level-check", action="store_true",
                        help="also score each tsrnn configuration without the level check")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    configs = {} if args.no_default else {"tsrnn": {}}
    configs.update(parse_config(t) for t in args.tsrnn)
    only = None if args.only is None else set(args.only.split(","))
    rows, notes = [], []
    for dataset in args.datasets.split(","):
        started = time.perf_counter()
        if dataset == "nab":
            cases = nab_cases(args.data, args.files)
        elif dataset in ("skab", "skab-free"):
            cases = skab_cases(args.data, args.files, free=dataset == "skab-free")
        elif dataset == "sensors":
            cases = sensor_cases()
        elif dataset == "nab-blips":
            cases = blip_cases(args.data, args.files, args.seed, args.blip_size)
        else:
            parser.error(f"--datasets: unknown dataset {dataset!r}")
        fitted: dict = {}  # (training frame, configuration) -> detector
        per_case = []
        for c in cases:
            per_case.append(score_case(c, configs, only, args.seed, fitted, args.cache,
                                       args.finetune, not args.finetune_fixed))
            if args.no_level_check:
                per_case[-1].update(without_level_check(c, configs, fitted, per_case[-1]))
            print(f"{dataset} {c.name}: {time.perf_counter() - started:.0f} s", flush=True)
        del fitted
        for spec in args.mean:
            name, _, parts = spec.partition(":")
            for r in per_case:
                missing = [k for k in parts.split("+") if k not in r]
                if missing:
                    parser.error(f"--mean {spec}: no configuration {missing[0]!r}")
                r[name] = tuple(np.mean([r[k][j] for k in parts.split("+")], axis=0)
                                for j in (0, 1))
        seconds = time.perf_counter() - started
        for det in per_case[0]:
            results = [r[det] for r in per_case]
            metrics = pd.DataFrame([case_metrics(c, *r) for c, r in
                                    zip(cases, results, strict=True)]).mean()
            row = {"dataset": dataset, "detector": det, **metrics.to_dict()}
            if dataset == "nab" and any(c.windows for c in cases):
                nab = nab_scores(cases, results)
                row.update({"NAB": nab["standard"]["score"],
                            "NAB lowFP": nab["reward_low_FP"]["score"],
                            "NAB lowFN": nab["reward_low_FN"]["score"]})
                if all(any(c.windows for c in cases[k::2]) for k in (0, 1)):
                    row.update(nab_transfer(cases, results))
            if dataset.startswith("skab"):
                row.update(pooled_alarm_metrics(cases, results))
                if dataset == "skab":
                    moved = skab_transfer(cases, results)
                    row["F1 moved"], row["FAR moved"] = moved["F1"], moved["FAR"]
            if cases[0].kinds is not None:
                row.update({f"{k} @1%": v for k, v in kind_recall(cases[0], *results[0])
                            .items()})
                row.update({f"{k} @1%/sensor": v for k, v in
                            kind_recall(cases[0], *results[0], per_series=True).items()})
                notes.append(f"{det}: normal rows above the 1% threshold (median normal "
                             f"score, first to last fifth): "
                             f"{false_alarms_by_series(cases[0], results[0][0])}")
            rows.append(row)
        notes.append(f"{dataset}: {len(cases)} files, {seconds:.0f} s")
    table = pd.DataFrame(rows).set_index(["dataset", "detector"])
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table.to_string(float_format="{:.3f}".format))
    print("\n".join(notes))
    if args.json:
        args.json.write_text(json.dumps(table.reset_index().to_dict("records"), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
