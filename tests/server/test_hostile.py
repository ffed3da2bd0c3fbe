"""What a peer without a key, or one that never sends its message, can do to the server."""
import concurrent.futures
import json
import statistics
import time

import grpc
import pytest

from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig
from fpgascore_conformance.hostile import PREDICT, HalfOpenStreams

from . import rpc

PRIMARY = "primary-key-hostile-51"
REQUEST = rpc.image_request([rpc.image("tiny-noise.png")])


def keyed_latencies(caller, calls: int = 15):
    latencies = []
    for _ in range(calls):
        started = time.perf_counter()
        caller.predict(REQUEST, [("authorization", PRIMARY)], timeout=5)
        latencies.append(time.perf_counter() - started)
    return latencies


@pytest.fixture(scope="module")
def tls_server(tls):
    config = ServerConfig(tls_cert=tls.server.cert, tls_key=tls.server.key, primary_key=PRIMARY, conformance=False)
    with EmulatorProcess(config) as server:
        yield server


def test_keyless_half_open_streams_do_not_starve_keyed_calls(tls_server, tls):
    caller = rpc.secure(tls_server.target, tls.ca)
    keyed_latencies(caller, 5)  # warm-up
    idle = statistics.median(keyed_latencies(caller))
    credentials = grpc.ssl_channel_credentials(root_certificates=tls.ca.read_bytes())
    attack = HalfOpenStreams(tls_server.target, 200, credentials)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and None in attack.codes():
            time.sleep(0.05)
        # Refused at their headers, before their message (which never comes) is read.
        assert attack.codes() == [grpc.StatusCode.UNAUTHENTICATED] * 200
        attacked = statistics.median(keyed_latencies(caller))
    finally:
        attack.close()
    print(f"keyed p50 idle {idle * 1000:.2f} ms, with 200 keyless half-open streams {attacked * 1000:.2f} ms")
    assert attacked <= 2 * idle + 0.025


def test_a_call_whose_message_never_comes_is_cancelled_after_the_request_wait():
    config = ServerConfig(conformance=False, extra_env={"FPGASCORE_REQUEST_WAIT_SECONDS": "0.5"})
    with EmulatorProcess(config) as server:
        held = HalfOpenStreams(server.target, 60, connections=2)  # more than the server's workers
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and None in held.codes():
                time.sleep(0.05)
            assert set(held.codes()) == {grpc.StatusCode.CANCELLED}
            # The workers are free again: a normal call is served.
            response, _ = rpc.plaintext(server.target).predict(REQUEST, timeout=5)
            assert "output_alias" in response.outputs
        finally:
            held.close()
    records = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    abandoned = [r for r in records if r["event"] == "request.abandoned"]
    suppressed = sum(r["lines"] for r in records if r["event"] == "log.suppressed")  # logs.LineBudget
    assert len(abandoned) + suppressed == 60 and abandoned[0]["method"] == PREDICT


@pytest.fixture(scope="module")
def plain():
    with EmulatorProcess(ServerConfig(conformance=False)) as server:
        yield server


def _longest_log_line(server) -> int:
    return max(len(line) for line in server.logs().splitlines())


@pytest.mark.parametrize("attack", ["output_filter", "dims", "model_name", "input_names"])
def test_what_a_request_makes_the_server_echo_is_bounded(plain, attack):
    request = rpc.image_request([rpc.image("tiny-noise.png")])
    if attack == "output_filter":
        request.output_filter.extend(f"no-such-output-{i}" for i in range(10_000))
    elif attack == "dims":
        request = rpc.image_request([rpc.image("tiny-noise.png")], dims=[1] * 1_000_000)
    elif attack == "model_name":
        request.model_spec.name = "m" * 5_000_000
    else:
        for i in range(10_000):
            request.inputs[f"extra-{i}"].dtype = 1
    error = rpc.plaintext(plain.target).error(request)
    expected = grpc.StatusCode.NOT_FOUND if attack == "model_name" else grpc.StatusCode.INVALID_ARGUMENT
    assert error.code() == expected, error.details()
    assert len(error.details()) < 1000 and "more" in error.details(), error.details()[:300]
    assert _longest_log_line(plain) < 2000


def test_keyed_calls_past_the_admission_slots_are_refused_with_a_retry_hint(tls):
    """The server's own admission answers them (with a hint), not grpcio's concurrency limit
    (no hint), which sits above the slots so that keyless calls cannot take their places."""
    config = ServerConfig(tls_cert=tls.server.cert, tls_key=tls.server.key, primary_key=PRIMARY,
                          conformance=False, service_time_ms=1000, queue_depth=8,
                          extra_env={"FPGASCORE_MAX_CONCURRENT_RPCS": "3"})
    with EmulatorProcess(config) as server:
        caller = rpc.secure(server.target, tls.ca)

        def one():
            try:
                caller.predict(REQUEST, [("authorization", PRIMARY)], timeout=10)
                return "OK", None, ""
            except grpc.RpcError as error:
                return error.code().name, rpc.trailing(error).get("grpc-retry-pushback-ms"), error.details()

        with concurrent.futures.ThreadPoolExecutor(5) as pool:
            outcomes = list(pool.map(lambda _: one(), range(5)))
    assert sorted(code for code, _, _ in outcomes) == ["OK"] * 3 + ["RESOURCE_EXHAUSTED"] * 2, outcomes
    for code, hint, details in outcomes:
        if code != "OK":
            assert int(hint) > 0 and "--max-concurrent-rpcs" in details
