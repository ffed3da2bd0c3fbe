"""The judge is tested: the whole suite against a driver that is only the generated gRPC stub
(raw_stub_driver.py). It must fail exactly the cases that need a client's own logic and pass
the rest. When this test fails after a case was added or changed, decide which side the case
is on: a case that needs client logic goes into RAW_STUB_FAILS with its reason; otherwise the
case (or the judge) asks for something a plain gRPC call cannot be expected to do."""
from __future__ import annotations

import time

from .conftest import PYTHON, RAW_STUB, case_ids, run_conformance

SECRET_SCAN = "no-key-in-any-log"

# case id -> the client logic the raw stub lacks
RAW_STUB_FAILS = {
    # retries (CLIENT_SPEC "Retry policy"): the stub makes one attempt
    "retry-unavailable-then-ok@plaintext": "retries UNAVAILABLE",
    "retry-unavailable-then-ok@tls": "retries UNAVAILABLE",
    "retry-aborted-then-ok": "retries ABORTED",
    "retry-resource-exhausted-with-pushback": "retries RESOURCE_EXHAUSTED after server pushback",
    "retry-gives-up-after-max-attempts@plaintext": "makes max_attempts attempts",
    "retry-gives-up-after-max-attempts@tls": "makes max_attempts attempts",
    "retry-bounded-by-deadline": "retries until the deadline",
    "backpressure-retried": "absorbs backpressure by retrying with pushback",
    "model-metadata-retried": "retries the metadata call too",
    # the secondary key (CLIENT_SPEC "Security"): the stub sends only the first key
    "auth-failover": "fails over to the secondary key and keeps it",
    "auth-failover-both-wrong": "fails over once",
    "auth-failover-concurrent": "fails over under concurrent calls",
    "auth-key-rotation": "fails over after a rotation, on a kept client",
    "model-metadata-secondary-failover": "fails over on the metadata call",
    # key checks: the stub sends what it is given
    "key-line-end-trimmed": "trims the key (gRPC refuses the CRLF value with an error that quotes the key)",
    "key-unsendable-refused": "refuses an unsendable key at construction, naming the problem",
    "auth-plaintext-refused": "refuses to send a key over plaintext",
    "auth-plaintext-refused-at-construction": "refuses a key over plaintext when built",
    "auth-as-user-metadata-refused": "refuses 'authorization' given as user metadata (it would bypass the key rules)",
    # error classification: gRPC's own message does not say "certificate was not trusted"
    "tls-untrusted-ca": "classifies a TLS verification failure",
    "tls-wrong-roots-explicit": "classifies a TLS verification failure",
    "tls-wrong-roots-env": "classifies a TLS verification failure",
    "tls-system-roots": "classifies a TLS verification failure",
    "tls-self-signed-not-trusted": "classifies a TLS verification failure",
    "tls-expired": "classifies a TLS verification failure",
    "tls-wrong-host": "classifies a host-name mismatch as untrusted",
    "tls-server-name-override-mismatch": "classifies a host-name mismatch as untrusted",
    "tls-untrusted-not-retried": "classifies a TLS verification failure",
    # answers (CLIENT_SPEC "Answers"): the stub reports whatever scores come back, within gRPC's limit
    "answer-nan@plaintext": "refuses non-finite scores as INTERNAL, naming image and class",
    "answer-nan@tls": "refuses non-finite scores as INTERNAL, naming image and class",
    "answer-nan-tensor-content": "refuses non-finite scores in tensor_content",
    "answer-inf-one-score": "refuses one +Inf score, naming image and class",
    "answer-minus-inf-tensor": "refuses one -Inf score, naming image and class",
    "answer-under-response-limit": "reads answers up to 16 MiB (grpcio's default limit is 4 MiB)",
    # never a key in an error message: gRPC's error for key-line-end-trimmed quotes the key
    SECRET_SCAN: "keeps keys out of error messages",
}


def test_raw_stub_fails_exactly_where_client_logic_is_needed(workdir, tmp_path):
    started = time.monotonic()
    outcome = run_conformance(["--jobs", "4", "--driver", f"raw={PYTHON} {RAW_STUB}"], cwd=workdir,
                              out=tmp_path / "out")
    elapsed = time.monotonic() - started
    statuses = outcome.statuses("raw")
    assert set(statuses) == set(case_ids()) | {SECRET_SCAN}, "every case ran for the raw column"
    assert "raw = raw-stub-driver (grpcio generated stub" in outcome.matrix
    failing = set(outcome.failing("raw"))
    problems = {case: outcome.results[("raw", case)]["problems"] for case in failing - set(RAW_STUB_FAILS)}
    assert not problems, f"the raw stub fails cases that should not need client logic: {problems}"
    passing = sorted(set(RAW_STUB_FAILS) - failing)
    assert not passing, f"the raw stub passes cases that should need client logic (the suite no longer tells): {passing}"
    assert all(status in ("pass", "fail") for status in statuses.values())
    assert outcome.returncode == 1
    print(f"raw stub run: {len(statuses)} results, {len(failing)} failing as expected, {elapsed:.0f} s")
