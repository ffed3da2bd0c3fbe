"""GetService reports each running server's metrics (process mode): calls per code, images,
queue, latency; ListServices does not read them."""
from __future__ import annotations

import grpc
import pytest

import fpgascore
from fpgascore import PredictionClient, ReplicaHealth, RetryPolicy
from fpgascore.v1 import predict_pb2, prediction_service_pb2_grpc
from fpgascore_emulator.manager import replicas

from .managers import IMAGES

IMAGE = (IMAGES / "gradient.jpg").read_bytes()


def test_get_service_shows_the_calls_per_code_of_its_server(make_manager):
    manager = make_manager()
    with manager.client() as deployments:
        deployments.register_model("resnet50")
        service = deployments.create_service("metered", "resnet50")
        [fresh] = deployments.get_service(service).replicas
        assert fresh.health is ReplicaHealth.SERVING and fresh.calls_by_code == {}
        assert fresh.queue_capacity == 32 and fresh.latency_p50_ms == 0 and fresh.observed_at is not None
        with PredictionClient(service.ip_address, service.port, retry_policy=RetryPolicy.disabled(),
                              timeout=30) as scorer:
            for _ in range(3):
                scorer.score_image(IMAGE)
        with grpc.insecure_channel(service.address) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            with pytest.raises(grpc.RpcError) as refused:
                stub.Predict(predict_pb2.PredictRequest(), timeout=30)  # no input: INVALID_ARGUMENT
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        [replica] = deployments.get_service(service.name).replicas
        assert replica.index == 0 and replica.health is ReplicaHealth.SERVING, replica.health_message
        assert replica.calls_by_code.get("OK") == 3, replica
        assert replica.calls_by_code.get("INVALID_ARGUMENT") == 1
        assert replica.images_scored == 3
        assert replica.queue_in_use == 0 and replica.queue_capacity == 32
        assert 0 < replica.latency_p50_ms <= replica.latency_p99_ms <= 10_000
        assert all(entry.replicas == () for entry in deployments.list_services())
        deployments.delete_service(service)


def test_the_quantiles_follow_histogram_quantile():
    buckets = [(0.001, 0.0), (0.01, 50.0), (0.1, 100.0), (float("inf"), 100.0)]
    assert replicas.quantile(0.5, buckets) == pytest.approx(0.01)
    assert replicas.quantile(0.99, buckets) == pytest.approx(0.01 + 0.09 * 49 / 50)
    assert replicas.quantile(0.5, [(0.1, 0.0), (float("inf"), 0.0)]) == 0.0
    assert replicas.quantile(0.99, [(0.1, 1.0), (float("inf"), 10.0)]) == 0.1  # beyond the last bound
    unreadable = replicas.scrape(("127.0.0.1", 1))
    assert unreadable.health == replicas.UNKNOWN and "cannot read" in unreadable.health_message
    assert fpgascore.ReplicaStatus is not None
