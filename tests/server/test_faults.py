"""Faults on purpose: the server container killed and restarted in the middle of a run, and
many idle or slow connections next to real traffic."""
import concurrent.futures
import socket
import threading
import time

import grpc
import pytest

from fpgascore import PredictionClient, RetryPolicy, ScoringError
from fpgascore_conformance import emulator
from fpgascore_conformance.emulator import EmulatorContainer, EmulatorProcess, ServerConfig

from . import rpc

IMAGE = rpc.image("tiny-noise.png")
# podman's port forwarding takes a few seconds to reach a restarted container, more on a machine
# busy with the other suites test-all runs at the same time.
DEADLINE_S = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.container
def test_kill_and_restart_mid_run_every_call_ends_before_its_deadline():
    image = emulator.build_image()
    server = EmulatorContainer(ServerConfig(conformance=False), image=image, host_port=_free_port())
    server.start()
    # Attempts enough that the deadline, not their count, ends a call caught by the crash: the
    # channel's own reconnect backoff (1 s growing 1.6 times) may not retry the restarted server
    # for ~10 s after the crash, and podman's forwarding adds its delay on a busy machine.
    policy = RetryPolicy(max_attempts=1000, initial_backoff=0.05, max_backoff=0.4)
    outcomes, lock = [], threading.Lock()
    stop = threading.Event()

    def caller():
        with PredictionClient("127.0.0.1", server.port, timeout=DEADLINE_S, retry_policy=policy) as client:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    client.score_image(IMAGE)
                    code = "OK"
                except ScoringError as error:
                    code = error.code.name
                with lock:
                    outcomes.append((started, time.monotonic() - started, code))
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(caller) for _ in range(4)]
            try:
                time.sleep(1.5)
                crashed_at = time.monotonic()
                server.crash()
                time.sleep(1.0)
                server.restart()
                restarted_at = time.monotonic()
                recovered_at = _first_success_after(outcomes, lock, restarted_at, timeout=DEADLINE_S)
                time.sleep(3.0)
            finally:
                stop.set()
            for future in futures:
                future.result(timeout=DEADLINE_S + 5)
    finally:
        server.stop()
    assert outcomes, "no call was made"
    assert all(elapsed <= DEADLINE_S + 1.0 for _, elapsed, _ in outcomes), "a call outlived its deadline"
    assert {code for _, _, code in outcomes} <= {"OK", "UNAVAILABLE", "DEADLINE_EXCEEDED"}
    spanning = [o for o in outcomes if o[0] < crashed_at + 0.5 and o[0] + o[1] > restarted_at]
    seen = [(round(start - crashed_at, 1), round(elapsed, 1), code) for start, elapsed, code in spanning]
    assert any(code == "OK" for _, _, code in spanning), \
        f"calls caught by the crash must succeed by retrying; restarted {restarted_at - crashed_at:.1f} s after " \
        f"the crash; (start after the crash, seconds, code): {seen}"
    after = [code for started, _, code in outcomes if started > recovered_at]
    assert after and all(code == "OK" for code in after), f"calls after the first success since the restart: {after}"


def _first_success_after(outcomes: list, lock: threading.Lock, since: float, timeout: float) -> float:
    """When the first call that started after ``since`` ended OK (monotonic seconds)."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        with lock:
            ends = [start + elapsed for start, elapsed, code in outcomes if start > since and code == "OK"]
        if ends:
            return min(ends)
        time.sleep(0.1)
    raise AssertionError(f"no call that started after the restart succeeded within {timeout:.0f} s")


def test_idle_and_slow_connections_do_not_starve_real_calls():
    with EmulatorProcess(ServerConfig(conformance=False)) as server:
        idle = []
        for _ in range(200):  # connections that never speak
            idle.append(socket.create_connection(("127.0.0.1", server.port)))
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")  # an HTTP/2 preface, then silence
        channels = [grpc.insecure_channel(server.target) for _ in range(50)]  # open HTTP/2, no calls
        for channel in channels:
            grpc.channel_ready_future(channel).result(timeout=10)
        try:
            caller = rpc.plaintext(server.target)
            started = time.monotonic()
            for _ in range(5):
                response, _ = caller.predict(rpc.image_request([IMAGE]), timeout=10)
                assert "output_alias" in response.outputs
            assert time.monotonic() - started < 10
        finally:
            for connection in idle + [slow]:
                connection.close()
            for channel in channels:
                channel.close()


def test_oversized_metadata_is_refused_without_harm():
    with EmulatorProcess(ServerConfig(conformance=False)) as server:
        caller = rpc.plaintext(server.target)
        error = caller.error(rpc.image_request([IMAGE]), [("x-padding", "a" * 64 * 1024)], timeout=10)
        assert error.code() in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INTERNAL,
                                grpc.StatusCode.UNAVAILABLE)
        # gRPC drops the connection that sent it; the server goes on serving new ones
        fresh = grpc.insecure_channel(server.target, options=[("grpc.use_local_subchannel_pool", 1)])
        rpc.Caller(fresh).predict(rpc.image_request([IMAGE]))


def _frame(kind: int, payload: bytes = b"", flags: int = 0, stream: int = 0) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def test_a_client_that_floods_pings_is_sent_away():
    """Keepalive enforcement: pings without data more often than every 10 s earn strikes;
    after a few the server ends the connection with GOAWAY ENHANCE_YOUR_CALM."""
    settings_type, ping_type, goaway_type, enhance_your_calm = 4, 6, 7, 0xB
    with EmulatorProcess(ServerConfig(conformance=False)) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            raw.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + _frame(settings_type))
            received = b""
            goaway = None
            deadline = time.monotonic() + 10
            while goaway is None and time.monotonic() < deadline:
                raw.sendall(_frame(ping_type, b"fpgascor"))
                time.sleep(0.05)
                raw.settimeout(0.05)
                try:
                    chunk = raw.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                received += chunk
                while len(received) >= 9:
                    length = int.from_bytes(received[:3], "big")
                    if len(received) < 9 + length:
                        break
                    kind, payload = received[3], received[9:9 + length]
                    received = received[9 + length:]
                    if kind == goaway_type:
                        goaway = int.from_bytes(payload[4:8], "big")
        assert goaway == enhance_your_calm
        rpc.plaintext(server.target).predict(rpc.image_request([IMAGE]))
