"""The engines that run work items: Ray (imported here, lazily, never by the core)
or this process, with the same function per item, so both give the same results.

A work item never raises out of its worker: :func:`_attempt` turns its error into
one line that the caller reports with the item's name, and a worker that dies
(killed, out of memory) fails the items it held with Ray's reason in one line,
never a bare Ray traceback.

Models travel as the bytes of the safe model file format
(:mod:`tsrnn.persistence`): workers load them with ``torch.load(weights_only=True)``
and check them as any model file is checked, so no fitted weights are pickled.
"""

from __future__ import annotations

import importlib
import io
import math
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

RAY_HINT = "pip install 'tsrnn[ray]'"


def installed(module: str) -> bool:
    """Whether ``module`` imports (it is imported to find out: only done when the
    answer picks the engine that then imports it anyway)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def require_ray():
    """The ``ray`` module, or an ImportError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ImportError(f"engine='ray' needs Ray: {RAY_HINT}") from None
    return ray


def resolve_engine(engine: str, address: str | None, alone: str = "local") -> str:
    """``alone`` (the engine without Ray) or ``'ray'``: ``'auto'`` is Ray when it is
    installed, else ``alone``; an address names a Ray cluster, so it needs Ray."""
    engines = ("auto", alone, "ray")
    if engine not in engines:
        raise ValueError(f"engine must be one of {engines}, got {engine!r}")
    if engine == "auto":
        engine = "ray" if address is not None or installed("ray") else alone
    if address is not None and engine != "ray":
        raise ValueError(f"address={address!r} names a Ray cluster: it needs engine='ray'")
    if engine == "ray":
        require_ray()
    return engine


@contextmanager
def ray_session(address: str | None = None, *, keep: bool = True) -> Iterator[Any]:
    """The ``ray`` module, connected: the running Ray if there is one, else the
    cluster at ``address`` (None: a new local one, or ``RAY_ADDRESS``). One this
    call started is shut down on leaving unless ``keep`` (as Ray's own libraries
    leave an automatic ``ray.init`` running for the next call)."""
    ray = require_ray()
    started = False
    if not ray.is_initialized():
        try:
            reachable(address)
        except ConnectionError as err:
            raise ConnectionError(f"cannot reach Ray at address={address!r}: {err}") from None
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     logging_level="ERROR")
        except Exception as err:  # ConnectionError, ValueError, RuntimeError, ...
            where = f" at {address}" if address else ""
            raise ConnectionError(f"cannot start or reach Ray{where}: {one_line(err)}"
                                  ) from None
        started = True
    try:
        yield ray
    finally:
        if started and not keep:
            ray.shutdown()


def reachable(address: str | None, timeout: float = 5.0) -> None:
    """Fail fast where nothing listens at a ``host:port`` (or ``ray://host:port``)
    address: ``ray.init`` would wait minutes there, retrying, before it gives up."""
    if not address or address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit() or "://" in host:
        return  # another form Ray knows (or refuses with its own message)
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        raise ConnectionError(f"nothing answers there ({err.strerror or err})") from None


def one_line(err: BaseException) -> str:
    """The first line of ``err``'s message, with its type where the message is not
    written for a user (see :func:`tsrnn.cli._options._one_line`)."""
    from tsrnn.cli._options import _one_line

    return _one_line(err)


# --------------------------------------------------------------------- items
Outcome = tuple[bool, Any]  # (True, result) or (False, a one-line reason)


def _attempt(task: Callable[[Any, Any], Any], shared: Any, item: Any) -> Outcome:
    try:
        return True, task(shared, item)
    except Exception as err:  # reported with the item's name; the others go on
        return False, one_line(err)


def _attempt_all(task, shared, items: list) -> list[Outcome]:
    return [_attempt(task, shared, item) for item in items]


_REMOTE = None


def _remote_attempt_all(ray):
    global _REMOTE
    if _REMOTE is None:
        # One CPU per task: Ray then also sets one thread per torch in the worker.
        _REMOTE = ray.remote(num_cpus=1, max_retries=0)(_attempt_all)
    return _REMOTE


def run_each(task: Callable[[Any, Any], Any], shared: Any, items: Sequence, *,
             engine: str = "local", address: str | None = None,
             batch_size: int | None = None,
             on_done: Callable[[int, Outcome], None] | None = None) -> list[Outcome]:
    """``task(shared, item)`` for every item, on ``engine``: the outcomes in input
    order, each ``(True, result)`` or ``(False, one-line reason)``.

    ``task`` must be a module-level function (Ray ships it by name). ``shared`` is
    sent once (``ray.put``); items go ``batch_size`` to a Ray task (default: about
    four tasks per CPU of the cluster). ``on_done(index, outcome)`` is called as
    items finish, in the order they finish.
    """
    if engine == "local":
        out = []
        for k, item in enumerate(items):
            out.append(_attempt(task, shared, item))
            if on_done is not None:
                on_done(k, out[-1])
        return out
    with ray_session(address) as ray:
        if batch_size is None:
            cpus = max(int(ray.cluster_resources().get("CPU", 1)), 1)
            batch_size = max(math.ceil(len(items) / (4 * cpus)), 1)
        shared_ref = ray.put(shared)
        remote = _remote_attempt_all(ray)
        chunks = {}
        for first in range(0, len(items), batch_size):
            index = range(first, min(first + batch_size, len(items)))
            chunks[remote.remote(task, shared_ref, [items[i] for i in index])] = index
        out: list[Outcome | None] = [None] * len(items)
        pending = list(chunks)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            index = chunks[done[0]]
            try:
                outcomes = ray.get(done[0])
            except Exception as err:  # the worker died: its items fail, the rest go on
                outcomes = [(False, f"the Ray worker failed: {ray_reason(err)}")] * len(index)
            for k, outcome in zip(index, outcomes, strict=True):
                out[k] = outcome
                if on_done is not None:
                    on_done(k, outcome)
        return out


def ray_reason(err: BaseException) -> str:
    """One line for a Ray error: its cause's message where Ray wraps one, without
    the remote traceback Ray puts in its text."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, BaseException):
        return one_line(cause)
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[-1]}" if lines else type(err).__name__


# -------------------------------------------------------------------- models
def model_bytes(model) -> bytes:
    """A fitted model as the bytes of its model file (:func:`tsrnn.persistence.save`)."""
    import torch

    from tsrnn import persistence

    buffer = io.BytesIO()
    torch.save(persistence.payload_of(model), buffer)
    return buffer.getvalue()


_LOADED: dict[bytes, Any] = {}  # a worker's decoded models, by content


def model_from_bytes(data: bytes, where: str = "the shipped model"):
    """The model that :func:`model_bytes` wrote, loaded and checked as a model file
    is (:func:`tsrnn.files.read_model`); decoded once per worker process."""
    import hashlib

    key = hashlib.sha256(data).digest()
    if key not in _LOADED:
        import torch

        from tsrnn import persistence
        from tsrnn.files import model_of_payload

        try:
            payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as err:
            raise ValueError(f"{where} is not a tsrnn model file: {one_line(err)}") from None
        if len(_LOADED) >= 4:  # a worker serves one run at a time; keep memory bounded
            _LOADED.clear()
        _LOADED[key] = model_of_payload(persistence.verify(payload, where), where)
    return _LOADED[key]
