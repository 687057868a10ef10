"""The engine layer: Ray stays out of the core, and models travel as safe model
file bytes."""

import io
import socket
import subprocess
import sys

import pytest
import torch

from tsrnn.distributed.engine import model_bytes, model_from_bytes, reachable


def test_the_core_never_imports_ray():
    code = ("import tsrnn, tsrnn.cli, tsrnn.distributed\n"
            "from tsrnn import Forecaster, AnomalyDetector\n"
            "from tsrnn.cli import build_parser\n"
            "from tsrnn.distributed import map_series, PartitionedStream, tune\n"
            "build_parser()\n"
            "import sys; print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_model_bytes_round_trip(detector, fleet):
    loaded = model_from_bytes(model_bytes(detector))
    assert loaded is not detector
    assert loaded.decision_function(fleet).equals(detector.decision_function(fleet))


def test_shipped_bytes_are_never_unpickled(pickled_code):
    code, marker = pickled_code
    buffer = io.BytesIO()
    torch.save({"format": "tsrnn-model", "payload": code}, buffer)
    with pytest.raises(ValueError, match="the shipped model is not a tsrnn model file"):
        model_from_bytes(buffer.getvalue())
    assert not marker.exists()
    with pytest.raises(ValueError, match="not a tsrnn model file"):
        model_from_bytes(b"not a model")


def test_a_dead_worker_fails_its_items_in_one_line(ray_cluster):
    import operator
    import os

    from tsrnn.distributed.engine import run_each

    if not hasattr(operator, "call"):
        pytest.skip("operator.call is Python 3.11's")
    # operator.call(os._exit, 3): the worker process ends, as a killed one would.
    outcomes = run_each(operator.call, os._exit, [3], engine="ray")
    assert len(outcomes) == 1 and outcomes[0][0] is False
    reason = outcomes[0][1]
    assert reason.startswith("the Ray worker failed: ")
    assert "\n" not in reason and "Traceback" not in reason


def _closed_port() -> int:
    with socket.socket() as s:  # a port the system just handed out, closed again
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_address_where_nothing_listens_fails_at_once():
    # ray.init would retry for minutes there before giving up.
    port = _closed_port()
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        with pytest.raises(ConnectionError, match="nothing answers there"):
            reachable(address)
    for address in (None, "auto", "local"):
        assert reachable(address) is None  # nothing to check: Ray finds or starts one
