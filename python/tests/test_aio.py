"""AsyncPredictionClient (grpc.aio): the same API and behaviour as the blocking client."""
from __future__ import annotations

import asyncio
import logging

import grpc
import numpy as np
import pytest

import fpgascore
from conftest import IMAGES
from fake_server import failing

pytestmark = pytest.mark.timeout(60)

C = grpc.StatusCode
FAST = fpgascore.RetryPolicy(max_attempts=4, initial_backoff=0.02, max_backoff=0.1)


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.mark.emulator
def test_async_scoring_matches_the_blocking_client(tls_server, pki, keys):
    async def main():
        async with fpgascore.AsyncPredictionClient(tls_server.host, tls_server.port, use_ssl=True,
                                                   access_token=keys["primary"],
                                                   root_certificates=pki.ca) as client:
            one = await client.score_image(IMAGES / "gradient.jpg")
            batch = await client.score_images([IMAGES / "gradient.jpg", IMAGES / "rings.jpg"])
            array = await client.score_numpy_array(np.zeros((224, 224, 3), dtype=np.float32))
            response = await client.predict({"images": fpgascore.image_tensor([IMAGES / "rings.jpg"])})
            many = await asyncio.gather(*(client.score_image(IMAGES / "checkerboard.png") for _ in range(8)))
            return one, batch, array, response, many

    one, batch, array, response, many = run(main())
    with fpgascore.PredictionClient(tls_server.host, tls_server.port, use_ssl=True, access_token=keys["primary"],
                                    root_certificates=pki.ca) as client:
        np.testing.assert_array_equal(one, client.score_image(IMAGES / "gradient.jpg"))
    assert one.shape == (1000,) and batch.shape == (2, 1000) and array.shape == (1000,)
    np.testing.assert_allclose(batch[0], one, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fpgascore.decode_scores(response)[0], batch[1], rtol=1e-5, atol=1e-7)
    assert len(many) == 8 and all(np.array_equal(m, many[0]) for m in many)


@pytest.mark.emulator
def test_async_retries_request_id_and_deadline(plain_server, case_id):
    async def main():
        async with fpgascore.AsyncPredictionClient(plain_server.host, plain_server.port, retry_policy=FAST) as client:
            info = fpgascore.CallInfo()
            await client.score_image(IMAGES / "gradient.jpg", call_info=info, metadata=[
                ("x-conformance-case", case_id), ("x-conformance-fail", "2:UNAVAILABLE")])
            with pytest.raises(fpgascore.InvalidInputError) as invalid:
                await client.score_image(IMAGES / "gradient.jpg", metadata=[
                    ("x-conformance-case", case_id + "/inv"), ("x-conformance-fail", "1:INVALID_ARGUMENT")])
            with pytest.raises(fpgascore.DeadlineExceededError):
                await client.score_image(IMAGES / "gradient.jpg", timeout=0.2, metadata=[
                    ("x-conformance-case", case_id + "/slow"), ("x-conformance-delay-ms", "1500")])
            return info, invalid.value

    info, invalid = run(main())
    assert info.attempts == 3 and info.request_id == plain_server.attempts(case_id)[-1]["request_id"]
    assert dict(info.trailing_metadata)["x-conformance-attempt"] == "3"  # the server's echo of the last attempt
    assert len(plain_server.attempts(case_id + "/inv")) == 1 and invalid.request_id


@pytest.mark.emulator
def test_async_failover_and_untrusted_certificate(tls_server, pki, keys):
    async def main():
        async with fpgascore.AsyncPredictionClient("localhost", tls_server.port, use_ssl=True, access_token="old",
                                                   secondary_access_token=keys["secondary"],
                                                   root_certificates=str(pki.ca)) as client:
            info = fpgascore.CallInfo()
            await client.score_image(IMAGES / "gradient.jpg", call_info=info)
            second = fpgascore.CallInfo()
            await client.score_image(IMAGES / "gradient.jpg", call_info=second)
        async with fpgascore.AsyncPredictionClient(tls_server.host, tls_server.port, use_ssl=True,
                                                   root_certificates=pki.untrusted_ca, retry_policy=FAST) as client:
            with pytest.raises(fpgascore.UntrustedCertificateError) as untrusted:
                await client.score_image(IMAGES / "gradient.jpg")
        return info, second, untrusted.value

    info, second, untrusted = run(main())
    assert info.attempts == 2 and second.attempts == 1
    assert untrusted.code == C.UNAVAILABLE and "certificate was not trusted" in str(untrusted)


def test_async_against_injected_failures(fake, caplog):
    fake.service.handler = failing(C.RESOURCE_EXHAUSTED, "queue full", times=1,
                                   trailing=[("grpc-retry-pushback-ms", "100")])
    caplog.set_level(logging.INFO)

    async def main():
        async with fpgascore.AsyncPredictionClient(fake.host, fake.port, access_token="k-async-secret",
                                                   allow_insecure_key=True, retry_policy=FAST) as client:
            await client.score_image(b"x")
            with pytest.raises(fpgascore.InvalidInputError):
                await client.score_images([])
            assert "k-async-secret" not in repr(client)

    run(main())
    assert len(fake.calls) == 2 and fake.calls[1].time - fake.calls[0].time >= 0.09
    assert all(c.metadata["authorization"] == "k-async-secret" for c in fake.calls)
    assert "k-async-secret" not in caplog.text


def test_async_plaintext_key_refused():
    async def main():
        fpgascore.AsyncPredictionClient("127.0.0.1", 1, access_token="k")

    with pytest.raises(fpgascore.InsecureKeyError):
        run(main())


@pytest.mark.emulator
def test_async_model_metadata(plain_server):
    async def main():
        async with fpgascore.AsyncPredictionClient(plain_server.host, plain_server.port) as client:
            return await client.model_metadata()

    metadata = run(main())
    assert (metadata.model_name, metadata.version) == ("resnet50", 1)
    assert metadata.input("images") == fpgascore.TensorSpec("images", "DT_STRING", (-1,))


@pytest.mark.emulator
def test_async_non_finite_answer_and_response_limit(plain_server, case_id):
    async def main():
        async with fpgascore.AsyncPredictionClient(plain_server.host, plain_server.port, retry_policy=FAST,
                                                   max_response_bytes=512 * 1024) as client:
            outcomes = []
            for control in (("x-conformance-scores", "inf@0,5"), ("x-conformance-pad-response-bytes", "600000")):
                try:
                    await client.score_image(IMAGES / "gradient.jpg", metadata=[("x-conformance-case", case_id), control])
                except fpgascore.ScoringError as error:
                    outcomes.append(error)
            return outcomes

    non_finite, too_large = run(main())
    assert type(non_finite) is fpgascore.NonFiniteScoreError and "(+Inf) at image 0, class 5" in non_finite.details
    assert non_finite.request_id
    assert type(too_large) is fpgascore.ResourceExhaustedError
