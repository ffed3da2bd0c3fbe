"""The client against the real reference server (scripts/run-emulator) on loopback."""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import subprocess
import textwrap
import time
from pathlib import Path

import grpc
import numpy as np
import pytest

import fpgascore
from conftest import IMAGES, PYTHON, SRC, start_emulator
from fpgascore_conformance.certs import WRONG_HOST

pytestmark = [pytest.mark.timeout(60), pytest.mark.emulator]

C = grpc.StatusCode
FAST = fpgascore.RetryPolicy(max_attempts=4, initial_backoff=0.02, max_backoff=0.1)
ALL_IMAGES = ["gradient.jpg", "rings.jpg", "checkerboard.png", "tiny-noise.png", "large-150k.jpg"]


def sha256(text: str) -> str:
    """The key fingerprint as the server logs it (a prefix of the SHA-256 hex)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tls_client(server, pki, keys, **options) -> fpgascore.PredictionClient:
    options.setdefault("access_token", keys["primary"])
    options.setdefault("root_certificates", pki.ca.read_bytes())
    options.setdefault("retry_policy", FAST)
    return fpgascore.PredictionClient(server.host, server.port, use_ssl=True, **options)


def case(case_id: str, **controls: str):
    return [("x-conformance-case", case_id)] + [(f"x-conformance-{k.replace('_', '-')}", v)
                                                for k, v in controls.items()]


# -- the documented snippet, verbatim, with the CA from the environment ---------------------

SNIPPET = textwrap.dedent('''
    import json, sys, types
    from fpgascore import PredictionClient
    service = types.SimpleNamespace(ipAddress=sys.argv[1], port=int(sys.argv[2]))
    image_file = sys.argv[3]

    client = PredictionClient(service.ipAddress, service.port, use_ssl=True, access_token="authKey")
    results = client.score_image(image_file)

    print(json.dumps({"shape": list(results.shape), "dtype": str(results.dtype), "sum": float(results.sum())}))
''')


@pytest.fixture(scope="module")
def authkey_server(tmp_path_factory, pki):
    server = start_emulator(tls_cert=pki.server.cert, tls_key=pki.server.key, primary_key="authKey")
    yield server
    server.stop()


def run_snippet(server, roots_file: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(SRC), GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=str(roots_file))
    return subprocess.run([PYTHON, "-c", SNIPPET, server.host, str(server.port), str(IMAGES / "gradient.jpg")],
                          env=env, capture_output=True, text=True, timeout=60)


def test_documented_snippet_verbatim_with_roots_from_the_environment(authkey_server, pki):
    result = run_snippet(authkey_server, pki.ca)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["shape"] == [1000] and output["dtype"] == "float32" and abs(output["sum"] - 1.0) < 1e-3
    assert authkey_server.records()[-1].get("authorization_sha256", "")[:16] == sha256("authKey")


def test_environment_roots_replace_the_system_roots(authkey_server, pki):
    result = run_snippet(authkey_server, pki.untrusted_ca)
    assert result.returncode != 0
    assert "UntrustedCertificateError" in result.stderr and "certificate was not trusted" in result.stderr
    assert "authKey" not in result.stderr


def test_system_roots_do_not_trust_the_test_ca(authkey_server):
    env = {k: v for k, v in os.environ.items() if k != "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"}
    env["PYTHONPATH"] = str(SRC)
    result = subprocess.run([PYTHON, "-c", SNIPPET, authkey_server.host, str(authkey_server.port),
                             str(IMAGES / "gradient.jpg")], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "certificate was not trusted" in result.stderr


# -- TLS --------------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["bytes", "text", "path", "pathlike"])
def test_explicit_roots_in_every_form(tls_server, pki, keys, form):
    roots = {"bytes": pki.ca.read_bytes(), "text": pki.ca.read_text(),
             "path": str(pki.ca), "pathlike": pki.ca}[form]
    with tls_client(tls_server, pki, keys, root_certificates=roots) as client:
        assert client.score_image(IMAGES / "gradient.jpg").shape == (1000,)


def test_localhost_name_and_server_name_override(tls_server, pki, keys):
    with fpgascore.PredictionClient("localhost", tls_server.port, use_ssl=True, access_token=keys["primary"],
                                    root_certificates=pki.ca) as client:
        client.score_image(IMAGES / "gradient.jpg")
    with tls_client(tls_server, pki, keys, server_name_override="localhost") as client:
        client.score_image(IMAGES / "gradient.jpg")
    with tls_client(tls_server, pki, keys, server_name_override=WRONG_HOST) as client:
        with pytest.raises(fpgascore.UntrustedCertificateError):
            client.score_image(IMAGES / "gradient.jpg")


def test_untrusted_certificates_are_unavailable(bad_cert_server, pki, keys):
    roots = pki.untrusted_ca if bad_cert_server.kind == "other_ca" else pki.ca
    with tls_client(bad_cert_server, pki, keys, root_certificates=roots) as client:
        with pytest.raises(fpgascore.UnavailableError) as info:
            client.score_image(IMAGES / "gradient.jpg")
    error = info.value
    assert isinstance(error, fpgascore.UntrustedCertificateError)
    assert error.code == C.UNAVAILABLE and "certificate was not trusted" in str(error)
    assert error.request_id == "" and keys["primary"] not in str(error)
    if bad_cert_server.kind == "wrong_host":  # valid for another name: accepted when that name is checked
        with tls_client(bad_cert_server, pki, keys, server_name_override=WRONG_HOST) as client:
            assert client.score_image(IMAGES / "gradient.jpg").shape == (1000,)


@pytest.mark.parametrize("asynchronous", [False, True])
def test_tls_client_to_plaintext_server_says_drop_tls(plain_server, asynchronous):
    error, info = mismatch(plain_server.host, plain_server.port, asynchronous, use_ssl=True)
    assert type(error) is fpgascore.UnavailableError and error.code == C.UNAVAILABLE
    assert error.details.startswith("the server does not speak TLS") and "use_ssl=False" in error.details
    assert info.attempts == 1  # not retried, whatever the policy allows


@pytest.mark.parametrize("asynchronous", [False, True])
def test_plaintext_client_to_tls_server_says_use_tls(tls_server, asynchronous):
    error, info = mismatch(tls_server.host, tls_server.port, asynchronous, use_ssl=False)
    assert type(error) is fpgascore.UnavailableError and error.code == C.UNAVAILABLE
    assert error.details.startswith("the server speaks TLS") and "use_ssl=True" in error.details
    assert info.attempts == 1


def mismatch(host, port, asynchronous, **options):
    """The error (and call info) of one call with a patient retry policy to a server of the other kind."""
    policy = fpgascore.RetryPolicy(max_attempts=5, initial_backoff=0.05, max_backoff=0.05, multiplier=1.0)
    info = fpgascore.CallInfo()
    if asynchronous:
        async def call():
            async with fpgascore.AsyncPredictionClient(host, port, retry_policy=policy, **options) as client:
                await client.score_image(IMAGES / "gradient.jpg", call_info=info)
        with pytest.raises(fpgascore.UnavailableError) as raised:
            asyncio.run(call())
    else:
        with fpgascore.PredictionClient(host, port, retry_policy=policy, **options) as client:
            with pytest.raises(fpgascore.UnavailableError) as raised:
                client.score_image(IMAGES / "gradient.jpg", call_info=info)
    assert not isinstance(raised.value, fpgascore.UntrustedCertificateError)
    return raised.value, info


# -- keys -------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["primary", "secondary"])
@pytest.mark.parametrize("scheme", ["raw", "bearer"])
def test_auth_matrix_accepted(tls_server, pki, keys, case_id, which, scheme):
    with tls_client(tls_server, pki, keys, access_token=keys[which], auth_scheme=scheme) as client:
        client.score_image(IMAGES / "gradient.jpg", metadata=case(case_id))
    sent = keys[which] if scheme == "raw" else f"Bearer {keys[which]}"
    assert [line["authorization_sha256"][:16] for line in tls_server.attempts(case_id)] == [sha256(sent)]


@pytest.mark.parametrize("token", [None, "wrong-key"])
def test_auth_matrix_refused(tls_server, pki, keys, token):
    with tls_client(tls_server, pki, keys, access_token=token) as client:
        with pytest.raises(fpgascore.AuthenticationError) as info:
            client.score_image(IMAGES / "gradient.jpg")
    assert info.value.code == C.UNAUTHENTICATED and info.value.request_id


def test_failover_to_the_secondary_key_and_keep_it(tls_server, pki, keys, case_id):
    revoked = "revoked-" + case_id.rsplit("/", 1)[-1]
    with tls_client(tls_server, pki, keys, access_token=revoked, secondary_access_token=keys["secondary"]) as client:
        info = fpgascore.CallInfo()
        client.score_image(IMAGES / "gradient.jpg", metadata=case(case_id + "/1"), call_info=info)
        client.score_image(IMAGES / "gradient.jpg", metadata=case(case_id + "/2"))
    assert info.attempts == 2
    # Find the refused attempt by the key's fingerprint (whether or not its log line has the case id).
    refused = [line for line in tls_server.records()
               if (line.get("authorization_sha256") or "")[:16] == sha256(revoked)]
    assert [line["code"] for line in refused] == ["UNAUTHENTICATED"]
    first = [a["authorization_sha256"][:16] for a in tls_server.attempts(case_id + "/1")]
    assert first in ([sha256(keys["secondary"])], [sha256(revoked), sha256(keys["secondary"])])
    assert [a["authorization_sha256"][:16] for a in tls_server.attempts(case_id + "/2")] == [sha256(keys["secondary"])]


def test_failover_with_both_keys_wrong(tls_server, pki, keys):
    with tls_client(tls_server, pki, keys, access_token="bad-1", secondary_access_token="bad-2") as client:
        with pytest.raises(fpgascore.AuthenticationError) as info:
            client.score_image(IMAGES / "gradient.jpg")
    assert "bad-1" not in str(info.value) and "bad-2" not in str(info.value)


def test_plaintext_key_refused_then_allowed(plain_auth_server, keys, case_id):
    with pytest.raises(fpgascore.InsecureKeyError) as info:
        fpgascore.PredictionClient(plain_auth_server.host, plain_auth_server.port, access_token=keys["primary"])
    assert info.value.code == C.FAILED_PRECONDITION and keys["primary"] not in str(info.value)
    assert plain_auth_server.attempts(case_id) == []
    with fpgascore.PredictionClient(plain_auth_server.host, plain_auth_server.port, access_token=keys["primary"],
                                    allow_insecure_key=True) as client:
        client.score_image(IMAGES / "gradient.jpg", metadata=case(case_id))
    assert len(plain_auth_server.attempts(case_id)) == 1


def test_keys_never_in_server_or_client_logs(tls_server, pki, keys, caplog, case_id):
    caplog.set_level(logging.DEBUG)
    with tls_client(tls_server, pki, keys) as client:
        client.score_image(IMAGES / "gradient.jpg", metadata=case(case_id, fail="1:UNAVAILABLE"))
    assert "retrying" in caplog.text
    for text in (caplog.text, tls_server.logs()):
        assert keys["primary"] not in text and keys["secondary"] not in text


# -- retries and deadlines against injected failures --------------------------------------

def test_retry_after_injected_unavailable(plain_server, case_id):
    info = fpgascore.CallInfo()
    with fpgascore.PredictionClient(plain_server.host, plain_server.port, retry_policy=FAST) as client:
        scores = client.score_image(IMAGES / "gradient.jpg", metadata=case(case_id, fail="2:UNAVAILABLE"),
                                    call_info=info)
    assert scores.shape == (1000,) and info.attempts == 3 and info.request_id
    assert [a["attempt"] for a in plain_server.attempts(case_id)] == [1, 2, 3]


def test_gives_up_after_four_attempts(plain_server, case_id):
    with fpgascore.PredictionClient(plain_server.host, plain_server.port, retry_policy=FAST) as client:
        with pytest.raises(fpgascore.UnavailableError) as info:
            client.score_image(IMAGES / "gradient.jpg", metadata=case(case_id, fail="9:UNAVAILABLE"))
    attempts = plain_server.attempts(case_id)
    assert len(attempts) == 4 and info.value.request_id == attempts[-1]["request_id"]


def test_injected_resource_exhausted_with_pushback_is_retried(plain_server, case_id):
    with fpgascore.PredictionClient(plain_server.host, plain_server.port, retry_policy=FAST) as client:
        client.score_image(IMAGES / "gradient.jpg", metadata=case(case_id, fail="1:RESOURCE_EXHAUSTED"))
    assert len(plain_server.attempts(case_id)) == 2


@pytest.mark.parametrize("code", ["INVALID_ARGUMENT", "PERMISSION_DENIED", "UNAUTHENTICATED", "INTERNAL"])
def test_no_retry_on_permanent_errors(plain_server, case_id, code):
    with fpgascore.PredictionClient(plain_server.host, plain_server.port, retry_policy=FAST) as client:
        with pytest.raises(fpgascore.ScoringError) as info:
            client.score_image(IMAGES / "gradient.jpg", metadata=case(case_id, fail=f"1:{code}"))
    assert info.value.code == C[code] and len(plain_server.attempts(case_id)) == 1
    assert info.value.request_id == plain_server.attempts(case_id)[0]["request_id"]


def test_deadline_exceeded(plain_server, case_id):
    with fpgascore.PredictionClient(plain_server.host, plain_server.port, retry_policy=FAST) as client:
        with pytest.raises(fpgascore.DeadlineExceededError) as info:
            client.score_image(IMAGES / "gradient.jpg", timeout=0.3, metadata=case(case_id, delay_ms="2000"))
    assert info.value.code == C.DEADLINE_EXCEEDED and info.value.request_id == ""


def test_default_deadline_bounds_retries(plain_server, case_id):
    slow = fpgascore.RetryPolicy(max_attempts=50, initial_backoff=0.3, max_backoff=0.3, multiplier=1.0)
    with fpgascore.PredictionClient(plain_server.host, plain_server.port, retry_policy=slow, timeout=1.0) as client:
        started = time.monotonic()
        # The last failure's code when the next sleep would pass the deadline; DEADLINE_EXCEEDED
        # when a busy machine makes an attempt itself run into it.
        with pytest.raises((fpgascore.UnavailableError, fpgascore.DeadlineExceededError)):
            client.score_image(IMAGES / "gradient.jpg", metadata=case(case_id, fail="50:UNAVAILABLE"))
        elapsed = time.monotonic() - started
    assert 1 < len(plain_server.attempts(case_id)) < 50
    assert elapsed < 3.0, f"the call lasted {elapsed:.2f} s with a 1 s deadline"


# -- scoring ----------------------------------------------------------------------------

def test_both_output_encodings_give_the_same_scores(plain_server, case_id):
    with fpgascore.PredictionClient(plain_server.host, plain_server.port) as client:
        a = client.score_image(IMAGES / "rings.jpg", metadata=case(case_id + "/a", encoding="float_val"))
        b = client.score_image(IMAGES / "rings.jpg", metadata=case(case_id + "/b", encoding="tensor_content"))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and abs(float(a.sum()) - 1.0) < 1e-3


def test_the_default_answer_is_float_val_and_scores_as_golden(plain_server):
    """The server's default encoding (TF Serving's) decodes to the golden scores."""
    golden = json.loads((IMAGES.parent / "golden.json").read_text())
    with fpgascore.PredictionClient(plain_server.host, plain_server.port) as client:
        response = client.predict({"images": fpgascore.image_tensor([IMAGES / "gradient.jpg"])})
        scores = client.score_image(IMAGES / "gradient.jpg")
    output = response.outputs["output_alias"]
    assert len(output.float_val) == 1000 and not output.tensor_content
    assert (response.model_spec.name, response.model_spec.version.value) == ("resnet50", 1)
    assert hashlib.sha256(scores.astype("<f4").tobytes()).hexdigest() == golden["gradient.jpg"]["sha256"]


# -- model metadata and model spec --------------------------------------------------------

def test_model_metadata_describes_the_served_signature(tls_server, pki, keys):
    info = fpgascore.CallInfo()
    with tls_client(tls_server, pki, keys) as client:
        metadata = client.model_metadata(call_info=info)
    assert metadata == fpgascore.ModelMetadata(
        model_name="resnet50", version=1, signature_name="serving_default",
        inputs=(fpgascore.TensorSpec("images", "DT_STRING", (-1,)),),
        outputs=(fpgascore.TensorSpec("features", "DT_FLOAT", (-1, 2048)),
                 fpgascore.TensorSpec("output_alias", "DT_FLOAT", (-1, 1000))))
    assert metadata.output("output_alias").shape == (-1, 1000)
    assert info.code == C.OK and info.attempts == 1 and len(info.request_id) == 32


def test_model_metadata_needs_the_key_and_retries_like_a_call(tls_server, plain_server, pki, keys, case_id):
    with tls_client(tls_server, pki, keys, access_token="wrong") as client:
        with pytest.raises(fpgascore.AuthenticationError):
            client.model_metadata()
    info = fpgascore.CallInfo()
    with fpgascore.PredictionClient(plain_server.host, plain_server.port, retry_policy=FAST) as client:
        assert client.model_metadata(metadata=case(case_id, fail="2:UNAVAILABLE"), call_info=info).version == 1
    assert info.attempts == 3


def test_unknown_model_and_signature_are_typed_errors(plain_server):
    with fpgascore.PredictionClient(plain_server.host, plain_server.port, model_name="inception") as client:
        with pytest.raises(fpgascore.ModelNotFoundError, match=r"Servable not found for request: Latest\(inception\)"):
            client.score_image(IMAGES / "gradient.jpg")
        with pytest.raises(fpgascore.ModelNotFoundError) as raised:
            client.model_metadata()
    assert raised.value.code == C.NOT_FOUND and raised.value.request_id
    with fpgascore.PredictionClient(plain_server.host, plain_server.port, signature_name="classify") as client:
        with pytest.raises(fpgascore.InvalidInputError, match='signature name: "classify" not found'):
            client.score_image(IMAGES / "gradient.jpg")


def test_batch_matches_single_images(plain_server):
    paths = [IMAGES / name for name in ALL_IMAGES]
    with fpgascore.PredictionClient(plain_server.host, plain_server.port) as client:
        batch = client.score_images(paths)
        singles = [client.score_image(path) for path in paths]
    assert batch.shape == (len(paths), 1000)
    for row, single in zip(batch, singles):
        np.testing.assert_allclose(row, single, rtol=1e-5, atol=1e-7)
        assert fpgascore.top_k(row, 5) == fpgascore.top_k(single, 5) or \
            [p.class_id for p in fpgascore.top_k(row, 3)] == [p.class_id for p in fpgascore.top_k(single, 3)]


def test_image_inputs_as_bytes_file_objects_and_paths(plain_server):
    path = IMAGES / "checkerboard.png"
    with fpgascore.PredictionClient(plain_server.host, plain_server.port) as client, path.open("rb") as handle:
        results = [client.score_image(path), client.score_image(str(path)), client.score_image(path.read_bytes()),
                   client.score_image(handle)]
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])


def test_numpy_array_scoring(plain_server):
    rng = np.random.default_rng(0)
    batch = rng.random((2, 224, 224, 3), dtype=np.float32)
    with fpgascore.PredictionClient(plain_server.host, plain_server.port) as client:
        both = client.score_numpy_array(batch)
        one = client.score_numpy_array(batch[1])
        response = client.predict({"images": fpgascore.float_tensor(batch)})
    assert both.shape == (2, 1000) and one.shape == (1000,)
    np.testing.assert_allclose(both[1], one, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(fpgascore.decode_scores(response), both)


def test_server_side_invalid_image_carries_request_id(plain_server, case_id):
    with fpgascore.PredictionClient(plain_server.host, plain_server.port, retry_policy=FAST) as client:
        with pytest.raises(fpgascore.InvalidInputError) as info:
            client.score_images([IMAGES / "gradient.jpg", IMAGES / "corrupt.jpg"], metadata=case(case_id))
    attempts = plain_server.attempts(case_id)
    assert len(attempts) == 1 and info.value.request_id == attempts[0]["request_id"]
    assert info.value.code == C.INVALID_ARGUMENT and info.value.details


def test_top_k_has_labels(plain_server):
    with fpgascore.PredictionClient(plain_server.host, plain_server.port) as client:
        top = fpgascore.top_k(client.score_image(IMAGES / "gradient.jpg"), 5)
    assert len(top) == 5 and all(p.label == fpgascore.labels()[p.class_id] for p in top)
    assert [p.score for p in top] == sorted((p.score for p in top), reverse=True)


# -- backpressure and limits --------------------------------------------------------------

@pytest.fixture(scope="module")
def busy_server(tmp_path_factory):
    """One FPGA, a queue of one, 300 ms per batch: easy to fill."""
    server = start_emulator(fpgas=1, queue_depth=1, service_time_ms=300)
    yield server
    server.stop()


def test_full_queue_is_resource_exhausted_and_retried_after_pushback(busy_server):
    from concurrent.futures import ThreadPoolExecutor
    image = (IMAGES / "gradient.jpg").read_bytes()

    def burst(policy):
        with fpgascore.PredictionClient(busy_server.host, busy_server.port, retry_policy=policy, timeout=30) as client:
            def one(_):
                info = fpgascore.CallInfo()
                try:
                    client.score_image(image, call_info=info)
                    return "OK", info.attempts
                except fpgascore.ScoringError as error:
                    return error.code.name, info.attempts
            with ThreadPoolExecutor(6) as pool:
                return list(pool.map(one, range(6)))

    refused = burst(fpgascore.RetryPolicy.no_retries())
    assert ("RESOURCE_EXHAUSTED", 1) in refused and ("OK", 1) in refused
    retried = burst(fpgascore.RetryPolicy(max_attempts=20, initial_backoff=0.05, max_backoff=0.5))
    assert all(code == "OK" for code, _ in retried) and max(attempts for _, attempts in retried) > 1


def test_oversized_message_is_not_retried(plain_server):
    info = fpgascore.CallInfo()
    with fpgascore.PredictionClient(plain_server.host, plain_server.port, retry_policy=FAST) as client:
        with pytest.raises(fpgascore.ResourceExhaustedError):
            client.score_image(b"\xff" * (17 * 1024 * 1024), call_info=info)
    assert info.attempts == 1


# -- the answer's sanity: non-finite scores, response size ---------------------------------

MiB = 1024 * 1024


@pytest.mark.parametrize("control, message", [("nan", "(NaN) at image 0, class 0"),
                                              ("-inf@1,999", "(-Inf) at image 1, class 999")])
def test_a_non_finite_answer_is_internal_with_the_request_id(plain_server, case_id, control, message):
    info = fpgascore.CallInfo()
    with fpgascore.PredictionClient(plain_server.host, plain_server.port, retry_policy=FAST) as client:
        with pytest.raises(fpgascore.NonFiniteScoreError) as raised:
            client.score_images([IMAGES / "gradient.jpg", IMAGES / "rings.jpg"], call_info=info,
                                metadata=case(case_id, scores=control))
    assert raised.value.code == C.INTERNAL and message in raised.value.details
    assert info.attempts == 1 and raised.value.request_id == plain_server.attempts(case_id)[0]["request_id"]


def test_negative_scores_are_passed_through_as_the_server_computed_them(plain_server, case_id):
    with fpgascore.PredictionClient(plain_server.host, plain_server.port) as client:
        honest = client.score_image(IMAGES / "rings.jpg")
        negative = client.score_image(IMAGES / "rings.jpg", metadata=case(case_id, scores="negative"))
    assert (negative < 0).all()
    np.testing.assert_array_equal(negative, honest - np.float32(2))


def test_responses_up_to_the_limit_are_read_and_larger_ones_are_resource_exhausted(plain_server, case_id):
    info = fpgascore.CallInfo()
    with fpgascore.PredictionClient(plain_server.host, plain_server.port, retry_policy=FAST) as client:
        scores = client.score_image(IMAGES / "rings.jpg", metadata=case(case_id, pad_response_bytes=str(15 * MiB)))
        assert scores.shape == (1000,)
    with fpgascore.PredictionClient(plain_server.host, plain_server.port, retry_policy=FAST,
                                    max_response_bytes=MiB) as client:
        with pytest.raises(fpgascore.ResourceExhaustedError, match="(?i)received message larger than max"):
            client.score_image(IMAGES / "rings.jpg", call_info=info,
                               metadata=case(case_id + "/over", pad_response_bytes=str(MiB)))
    assert info.attempts == 1  # not retried: the same answer would come back


def test_the_default_response_limit_is_16_mib(tmp_path):
    server = start_emulator(max_message_bytes=32 * MiB)
    try:
        pad = [("x-conformance-pad-response-bytes", str(16 * MiB))]
        with fpgascore.PredictionClient(server.host, server.port, retry_policy=FAST) as client:
            with pytest.raises(fpgascore.ResourceExhaustedError):
                client.score_image(IMAGES / "rings.jpg", metadata=pad)
        with fpgascore.PredictionClient(server.host, server.port, max_response_bytes=17 * MiB) as client:
            assert client.score_image(IMAGES / "rings.jpg", metadata=pad).shape == (1000,)
    finally:
        server.stop()
