"""The reference server's Prometheus endpoint (--metrics-port) on a real server process."""
import socket
import urllib.request

import grpc
from prometheus_client.parser import text_string_to_metric_families

from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig

from . import rpc

KEY = "metrics-test-primary-key-0123456789"
REQUEST = rpc.image_request([rpc.image("tiny-noise.png")] * 2)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _scrape(port: int):
    """{(name, frozen labels): value} of every sample /metrics answers."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        assert answer.status == 200
        text = answer.read().decode()
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def _value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def _server(port: int):
    return EmulatorProcess(ServerConfig(conformance=False, require_auth=True, primary_key=KEY, queue_depth=8,
                                        extra_env={"FPGASCORE_METRICS_PORT": str(port)}))


def test_metrics_count_calls_by_method_and_code_latency_images_and_the_queue():
    port = _free_port()
    with _server(port) as server:
        caller = rpc.plaintext(server.target)
        for _ in range(3):
            caller.predict(REQUEST, metadata=[("authorization", KEY)])
        assert caller.error(REQUEST).code() == grpc.StatusCode.UNAUTHENTICATED
        assert caller.error(REQUEST, metadata=[("authorization", "not-the-key-at-all")]).code() == \
            grpc.StatusCode.UNAUTHENTICATED
        bad = rpc.image_request([rpc.image("tiny-noise.png")], input_name="not_images")
        assert caller.error(bad, metadata=[("authorization", KEY)]).code() == grpc.StatusCode.INVALID_ARGUMENT
        samples = _scrape(port)
    assert _value(samples, "fpgascore_calls_total", method="predict", code="OK") == 3
    assert _value(samples, "fpgascore_calls_total", method="predict", code="UNAUTHENTICATED") == 2
    assert _value(samples, "fpgascore_calls_total", method="predict", code="INVALID_ARGUMENT") == 1
    assert _value(samples, "fpgascore_calls_total", method="get_model_status", code="OK") == 0
    # Every call's latency is observed once, in the bucket it fell in.
    assert _value(samples, "fpgascore_call_latency_seconds_count", method="predict") == 6
    assert _value(samples, "fpgascore_call_latency_seconds_bucket", method="predict", le="+Inf") == 6
    assert _value(samples, "fpgascore_call_latency_seconds_bucket", method="predict", le="10.0") == 6
    assert _value(samples, "fpgascore_call_latency_seconds_sum", method="predict") > 0
    assert _value(samples, "fpgascore_images_scored_total") == 6  # 3 OK calls x 2 images
    assert _value(samples, "fpgascore_fpga_queue_capacity") == 8
    assert _value(samples, "fpgascore_fpga_queue_in_use") == 0  # nothing waits once every call answered
    assert _value(samples, "fpgascore_decode_pixels_in_use") == 0
    assert _value(samples, "fpgascore_serving") == 1


def test_methods_a_hostile_peer_makes_up_never_become_label_values():
    port = _free_port()
    with _server(port) as server:
        before = _scrape(port)
        channel = grpc.insecure_channel(server.target)
        made_up = [f"/tensorflow.serving.PredictionService/Evil{n}" for n in range(20)] + \
                  [f"/evil{n}.Service/Predict" for n in range(20)]
        for path in made_up:
            call = channel.unary_unary(path, request_serializer=lambda m: m, response_deserializer=lambda m: m)
            try:
                call(b"", metadata=[("authorization", KEY)], timeout=10)
                raise AssertionError(f"{path} answered")
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.UNIMPLEMENTED
        after = _scrape(port)
    assert set(after) == set(before), "new series appeared: " + repr(sorted(set(after) - set(before))[:4])
    methods = {dict(labels).get("method") for _, labels in after} - {None}
    assert methods == {"predict", "get_model_metadata", "get_model_status", "health_check", "health_watch", "other"}
    assert _value(after, "fpgascore_calls_total", method="other", code="UNIMPLEMENTED") == len(made_up)


def test_no_metrics_port_by_default():
    from fpgascore_emulator.config import Settings, parse
    assert Settings().metrics_port == 0
    assert parse([], environ={"FPGASCORE_METRICS_PORT": "9464"}).metrics_port == 9464
    assert parse(["--metrics-port", "9465"], environ={}).metrics_host == "127.0.0.1"


def _settled(port: int, done, seconds: float = 15.0):
    """Scrapes until ``done(samples)`` holds (a stream is counted when the server sees it end,
    which may come a moment after the caller left), at most ``seconds``; the last scrape."""
    import time
    until = time.monotonic() + seconds
    while True:
        samples = _scrape(port)
        if done(samples) or time.monotonic() > until:
            return samples
        time.sleep(0.1)


def test_health_watch_streams_are_counted_when_they_end():
    """Watch is a streaming answer: each stream is counted (and logged) once, when it ends: OK for
    an unknown service's one answer, CANCELLED for a caller that left, RESOURCE_EXHAUSTED for a
    watcher over the bound."""
    from fpgascore.v1 import health_pb2, health_service_pb2_grpc
    from fpgascore_emulator.health import MAX_WATCHERS
    port = _free_port()
    with _server(port) as server:
        stub = health_service_pb2_grpc.HealthStub(grpc.insecure_channel(server.target))
        unknown = list(stub.Watch(health_pb2.HealthCheckRequest(service="nope"), timeout=10))
        assert [answer.status for answer in unknown] == [health_pb2.HealthCheckResponse.SERVICE_UNKNOWN]
        streams = [stub.Watch(health_pb2.HealthCheckRequest(), timeout=30) for _ in range(MAX_WATCHERS)]
        for stream in streams:
            assert next(stream).status == health_pb2.HealthCheckResponse.SERVING
        refused = stub.Watch(health_pb2.HealthCheckRequest(), timeout=10)
        try:
            next(refused)
            raise AssertionError("a watcher over the bound was served")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        for stream in streams:
            stream.cancel()
        samples = _settled(port, lambda s: _value(s, "fpgascore_calls_total", method="health_watch",
                                                  code="CANCELLED") >= MAX_WATCHERS)
        logs = server.logs()
    assert '"event":"health_watch","code":"RESOURCE_EXHAUSTED"' in logs
    assert _value(samples, "fpgascore_calls_total", method="health_watch", code="OK") == 1
    assert _value(samples, "fpgascore_calls_total", method="health_watch", code="RESOURCE_EXHAUSTED") == 1
    assert _value(samples, "fpgascore_calls_total", method="health_watch", code="CANCELLED") == MAX_WATCHERS
    assert _value(samples, "fpgascore_call_latency_seconds_count", method="health_watch") == MAX_WATCHERS + 2
    assert _value(samples, "fpgascore_calls_total", method="health_check", code="OK") == 0
