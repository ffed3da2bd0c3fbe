"""Queueing, backpressure, deadlines, conformance controls and shutdown on a real server."""
import concurrent.futures
import threading
import time

import grpc
import pytest

from fpgascore.v1 import health_pb2, health_service_pb2_grpc
from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig

from . import rpc

REQUEST = rpc.image_request([rpc.image("tiny-noise.png")])


def test_a_full_queue_answers_resource_exhausted_at_once_with_pushback():
    config = ServerConfig(service_time_ms=1500, fpgas=1, queue_depth=2)
    with EmulatorProcess(config) as server:
        caller = rpc.plaintext(server.target)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(lambda: _outcome(caller)) for _ in range(8)]
            outcomes = [f.result() for f in futures]
        refused = [o for o in outcomes if o[0] == grpc.StatusCode.RESOURCE_EXHAUSTED]
        served = [o for o in outcomes if o[0] == grpc.StatusCode.OK]
        assert len(served) >= 2 and len(refused) >= 1, outcomes  # at least the queue's 2 places
        assert len(served) + len(refused) == 8
        for code, elapsed, trailing, details in refused:
            assert elapsed < 1.0, "a refusal must not wait for an FPGA (1.5 s per image)"
            assert int(trailing["grpc-retry-pushback-ms"]) >= 0
            assert "queue is full" in details and trailing["request-id"]


def _outcome(caller):
    started = time.monotonic()
    try:
        _, trailing = caller.predict(REQUEST)
        return grpc.StatusCode.OK, time.monotonic() - started, trailing, ""
    except grpc.RpcError as error:
        return error.code(), time.monotonic() - started, rpc.trailing(error), error.details()


def test_service_time_and_fpga_count_set_the_pace():
    with EmulatorProcess(ServerConfig(service_time_ms=150, fpgas=2, queue_depth=8)) as server:
        caller = rpc.plaintext(server.target)
        started = time.monotonic()
        response, _ = caller.predict(rpc.image_request([rpc.image("tiny-noise.png")] * 4))
        elapsed = time.monotonic() - started
        assert rpc.decode(response.outputs["output_alias"]).shape == (4, 1000)
        assert elapsed >= 0.29, "4 images on 2 FPGAs at 150 ms take at least 300 ms"


def test_a_deadline_that_passes_in_the_queue_is_deadline_exceeded():
    with EmulatorProcess(ServerConfig(service_time_ms=400, queue_depth=4)) as server:
        caller = rpc.plaintext(server.target)
        error = caller.error(rpc.image_request([rpc.image("tiny-noise.png")] * 3), timeout=0.5)
        assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_injected_failures_hit_only_the_first_attempts_of_a_case(caller):
    metadata = [("x-conformance-case", "capacity/fail-twice"), ("x-conformance-fail", "2:UNAVAILABLE")]
    assert caller.error(REQUEST, metadata).code() == grpc.StatusCode.UNAVAILABLE
    assert caller.error(REQUEST, metadata).code() == grpc.StatusCode.UNAVAILABLE
    caller.predict(REQUEST, metadata)


def test_injected_delay_and_malformed_controls(caller):
    started = time.monotonic()
    caller.predict(REQUEST, [("x-conformance-delay-ms", "300")])
    assert time.monotonic() - started >= 0.3
    error = caller.error(REQUEST, [("x-conformance-fail", "two:UNAVAILABLE"), ("x-conformance-case", "x")])
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "2:UNAVAILABLE" in error.details()


def test_conformance_controls_are_ignored_unless_conformance_mode_is_on():
    with EmulatorProcess(ServerConfig(conformance=False)) as server:
        caller = rpc.plaintext(server.target)
        metadata = [("x-conformance-case", "c"), ("x-conformance-fail", "5:UNAVAILABLE"),
                    ("x-conformance-encoding", "tensor_content"), ("x-conformance-delay-ms", "5000"),
                    ("x-conformance-scores", "nan"), ("x-conformance-pad-response-bytes", "1000")]
        started = time.monotonic()
        response, _ = caller.predict(REQUEST, metadata)
        assert time.monotonic() - started < 4
        assert response.outputs["output_alias"].float_val and not response.outputs["output_alias"].tensor_content
        assert list(response.outputs) == ["output_alias"]
        assert all(score == score for score in response.outputs["output_alias"].float_val)  # no NaN
        assert "authorization_sha256" not in server.logs()


def test_sigterm_lets_in_flight_calls_finish_and_stops_cleanly():
    server = EmulatorProcess(ServerConfig(service_time_ms=800))
    server.start()
    try:
        caller = rpc.plaintext(server.target)
        result = {}
        thread = threading.Thread(target=lambda: result.setdefault("r", caller.predict(REQUEST)))
        thread.start()
        time.sleep(0.3)
    finally:
        code = server.stop()
    thread.join(5)
    assert "r" in result, "the in-flight call must complete"
    assert code == 0
    assert '"event":"stopped"' in server.logs()


def test_health_watch_reports_serving(plain_server):
    channel = grpc.insecure_channel(plain_server.target)
    stream = health_service_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=3)
    assert next(stream).status == health_pb2.HealthCheckResponse.SERVING
    stream.cancel()
    with pytest.raises(grpc.RpcError) as unknown:
        health_service_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="nope"), timeout=3)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


def test_health_watchers_are_bounded():
    from fpgascore_emulator.health import MAX_WATCHERS
    with EmulatorProcess(ServerConfig(conformance=False)) as server:
        _watchers_are_bounded(server, MAX_WATCHERS)


def _watchers_are_bounded(server, max_watchers: int) -> None:
    channel = grpc.insecure_channel(server.target)
    stub = health_service_pb2_grpc.HealthStub(channel)
    streams = [stub.Watch(health_pb2.HealthCheckRequest(), timeout=10) for _ in range(max_watchers)]
    for stream in streams:
        assert next(stream).status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as refused:
        next(stub.Watch(health_pb2.HealthCheckRequest(), timeout=10))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    for stream in streams:
        stream.cancel()
    rpc.plaintext(server.target).predict(REQUEST)


def test_the_pushback_hint_is_the_time_to_drain_the_whole_queue():
    # 1 FPGA x 1.5 s, 2 queue places: once both are held, the images queued need 2 x 1.5 s.
    config = ServerConfig(service_time_ms=1500, fpgas=1, queue_depth=2)
    with EmulatorProcess(config) as server:
        caller = rpc.plaintext(server.target)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(lambda _: _outcome(caller), range(8)))
    hints = [int(trailing["grpc-retry-pushback-ms"]) for code, _, trailing, _ in outcomes
             if code == grpc.StatusCode.RESOURCE_EXHAUSTED]
    assert hints and set(hints) == {3000}, hints  # refused only while both places are held


def test_a_batch_larger_than_the_queue_is_refused_without_pushback():
    config = ServerConfig(fpgas=1, queue_depth=2)
    with EmulatorProcess(config) as server:
        caller = rpc.plaintext(server.target)
        error = caller.error(rpc.image_request([rpc.image("tiny-noise.png")] * 3))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "batch of 3 images is larger than the FPGA queue (2 places)" in error.details()
        assert "grpc-retry-pushback-ms" not in rpc.trailing(error)
        caller.predict(rpc.image_request([rpc.image("tiny-noise.png")] * 2))  # a batch that fits is scored


def test_the_health_check_answers_while_every_watcher_is_held_on_the_health_port():
    import socket
    import subprocess
    import sys
    from fpgascore_emulator.health import MAX_WATCHERS
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        health_port = probe.getsockname()[1]
    config = ServerConfig(conformance=False, extra_env={"FPGASCORE_HEALTH_PORT": str(health_port)})
    with EmulatorProcess(config):
        stub = health_service_pb2_grpc.HealthStub(grpc.insecure_channel(f"127.0.0.1:{health_port}"))
        streams = [stub.Watch(health_pb2.HealthCheckRequest(), timeout=30) for _ in range(MAX_WATCHERS)]
        try:
            for stream in streams:
                assert next(stream).status == health_pb2.HealthCheckResponse.SERVING
            check = subprocess.run([sys.executable, "-m", "fpgascore_emulator.healthcheck", str(health_port)],
                                   capture_output=True, text=True, timeout=30)
        finally:
            for stream in streams:
                stream.cancel()
    assert check.returncode == 0 and check.stdout.strip() == "SERVING", check.stderr


def test_the_default_batch_limit_fits_the_default_queue():
    from fpgascore_emulator.config import Settings
    defaults = Settings()
    assert defaults.max_batch <= defaults.queue_depth
    with EmulatorProcess(ServerConfig(conformance=False)) as server:
        caller = rpc.plaintext(server.target)
        response, _ = caller.predict(rpc.image_request([rpc.image("tiny-noise.png")] * defaults.max_batch), timeout=60)
        assert [d.size for d in response.outputs["output_alias"].tensor_shape.dim] == [defaults.max_batch, 1000]
        error = caller.error(rpc.image_request([rpc.image("tiny-noise.png")] * (defaults.max_batch + 1)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and f"at most {defaults.max_batch}" in error.details()
