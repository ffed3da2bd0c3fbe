"""Judging one call's outcome (a DriverAnswer of proto/fpgascore/conformance/v1/driver.proto)
against a case's Expectation."""
from __future__ import annotations

import hashlib
import json
import pathlib
from typing import Any, Dict, Iterable, List, Optional, Sequence

from .cases import CONFORMANCE_DIR, Expectation
from .protocol import code_name, encode, pb

GOLDEN: Dict[str, Dict[str, Any]] = json.loads((CONFORMANCE_DIR / "testdata" / "golden.json").read_text())
SCORE_TOLERANCE = 1e-6


def fingerprint(value: str) -> Optional[str]:
    """What the server logs for an authorization value (None: no header)."""
    return hashlib.sha256(value.encode()).hexdigest()[:16] if value else None


CALL_EVENTS = ("predict", "get_model_metadata", "get_model_status")


def server_calls(log_text: str, case_prefix: str) -> List[Dict[str, Any]]:
    """The server's log records of the case's attempts (of any call), in order."""
    calls = []
    for line in log_text.splitlines():
        if case_prefix not in line or not any(f'"{event}"' in line for event in CALL_EVENTS):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        case = record.get("case") or ""
        if record.get("event") in CALL_EVENTS and (case == case_prefix or case.startswith(case_prefix + "#")):
            calls.append(record)
    return calls


# The reference server's echo of what it saw, in a call's trailers (conformance mode).
ECHO_ATTEMPT = "x-conformance-attempt"
ECHO_AUTHORIZATION = "x-conformance-authorization"
REQUEST_ID_EXPECTATIONS = ("request_id_matches_log", "request_id_on_success")


def echoed_calls(answer: pb.DriverAnswer) -> Optional[List[Dict[str, Any]]]:
    """The server's attempts as its echo in the results' trailers tells them, in the form of
    ``server_calls`` records (``authorization_sha256`` of each attempt, in order per call);
    None when a result carries no (or an incomplete) echo: then only the log can tell."""
    calls: List[Dict[str, Any]] = []
    for result in answer.results:
        attempt_text = result.trailers.get(ECHO_ATTEMPT, "")
        if not attempt_text.isdigit():
            return None
        presented = result.trailers.get(ECHO_AUTHORIZATION, "").split(",")
        if len(presented) != int(attempt_text):  # more attempts than the echo keeps
            return None
        calls += [{"authorization_sha256": None if value == "-" else value} for value in presented]
    return calls


def needs_log(expect: Expectation, answer: pb.DriverAnswer) -> bool:
    """Whether judging the step needs the server's log records beyond its echo: the request
    ids the server logged, or the interleaving of several calls' keys."""
    return (any(getattr(expect, name) for name in REQUEST_ID_EXPECTATIONS)
            or (expect.received_authorization is not None and len(answer.results) > 1))


def expected_attempts(expect: Expectation) -> Optional[int]:
    if expect.attempts is not None:
        return expect.attempts
    if expect.received_authorization is not None:
        return len(expect.received_authorization)
    return None


def metadata_of(result: pb.CallResult) -> Optional[Dict[str, Any]]:
    """A result's model metadata in the cases' form: model_name, version (None when absent),
    signature_name, inputs and outputs as [name, dtype, shape]; None when it has none."""
    if not result.HasField("metadata"):
        return None
    m = result.metadata

    def specs(items: Iterable[Any]) -> List[List[Any]]:
        return [[spec.name, spec.dtype, list(spec.shape)] for spec in items]

    return {"model_name": m.model_name, "version": m.version if m.HasField("version") else None,
            "signature_name": m.signature_name, "inputs": specs(m.inputs), "outputs": specs(m.outputs)}


# The expectations judged from the server's conformance log, not from the client's answer.
LOG_EXPECTATIONS = ("attempts", "attempts_min", "attempts_max", "received_authorization",
                    "request_id_matches_log", "request_id_on_success")


def judge(expect: Expectation, answer: pb.DriverAnswer, calls: Sequence[Dict[str, Any]], elapsed_ms: float,
          server_log: bool = True, golden_scores: bool = True) -> List[str]:
    """Everything that differs from the expectation; empty when the case passed. Without
    ``server_log`` (a --target run: no log to read) the LOG_EXPECTATIONS are not judged;
    without ``golden_scores`` (a target that does not serve the reference model) golden
    expectations check the answer's shape and top-k rows only, not the scores."""
    problems: List[str] = []
    if answer.error:
        return [f"driver error: {answer.error}"]
    results = list(answer.results)
    if not results:
        return ["driver returned no results"]
    codes = [code_name(r.code) for r in results]
    if expect.codes:
        wrong = sorted({c for c in codes if c not in expect.codes})
        if wrong:
            detail = "; ".join(sorted({r.message[:160] for r, c in zip(results, codes) if c in wrong}))
            problems.append(f"codes {wrong} not in {list(expect.codes)} ({detail})")
    for code in expect.codes_include:
        if code not in codes:
            problems.append(f"no call ended {code} (got {codes})")
    failures = [r for r in results if r.code != pb.OK]
    if expect.message_contains:
        for result in failures:
            if expect.message_contains.lower() not in result.message.lower():
                problems.append(f"message {result.message!r} lacks {expect.message_contains!r}")
    if expect.message_excludes:
        for result in results:
            if any(expect.message_excludes in text for text in (result.message, result.request_id, encode(result))):
                problems.append("a secret appears in the client's error or result")
    if expect.golden:
        problems += _golden(expect.golden, results, expect.score_offset, scores=golden_scores)
    if expect.metadata is not None:
        for index, result in enumerate(results):
            if result.code == pb.OK and metadata_of(result) != expect.metadata:
                problems.append(f"result {index}: metadata {metadata_of(result)}, expected {expect.metadata}")
    if expect.trailers:
        for index, result in enumerate(results):
            differing = {key: result.trailers.get(key) for key, value in expect.trailers.items()
                         if result.trailers.get(key) != value}
            if differing:
                problems.append(f"result {index}: trailers {differing}, expected {expect.trailers}"
                                + ("" if result.trailers else " (the driver reported no trailers)"))
    if not server_log:
        if expect.max_elapsed_ms is not None and elapsed_ms > expect.max_elapsed_ms:
            problems.append(f"took {elapsed_ms:.0f} ms, more than {expect.max_elapsed_ms:.0f} ms")
        return problems
    problems += _attempts(expect, calls)
    if expect.received_authorization is not None:
        wanted = [fingerprint(v) for v in expect.received_authorization]
        got = [c.get("authorization_sha256") for c in calls]
        if got != wanted:
            problems.append(f"server received authorization fingerprints {got}, expected {wanted}")
    if expect.request_id_matches_log:
        logged = [c.get("request_id") for c in calls]
        for result in failures:
            if not result.request_id or result.request_id not in logged:
                problems.append(f"error request_id {result.request_id!r} is not one the server logged {logged}")
    if expect.request_id_on_success:
        logged = [c.get("request_id") for c in calls]
        for index, result in enumerate(results):
            if result.code == pb.OK and (not result.request_id or result.request_id not in logged):
                problems.append(f"result {index}: request_id {result.request_id!r} on success is not one the server "
                                f"logged {logged}")
    if expect.max_elapsed_ms is not None and elapsed_ms > expect.max_elapsed_ms:
        problems.append(f"took {elapsed_ms:.0f} ms, more than {expect.max_elapsed_ms:.0f} ms")
    return problems


def _attempts(expect: Expectation, calls: Sequence[Dict[str, Any]]) -> List[str]:
    count = len(calls)
    wanted = expected_attempts(expect)
    if wanted is not None and count != wanted:
        return [f"server saw {count} attempts, expected {wanted}"]
    if expect.attempts_min is not None and count < expect.attempts_min:
        return [f"server saw {count} attempts, expected at least {expect.attempts_min}"]
    if expect.attempts_max is not None and count > expect.attempts_max:
        return [f"server saw {count} attempts, expected at most {expect.attempts_max}"]
    return []


def _golden(images: Sequence[str], results: Sequence[pb.CallResult], offset: float = 0.0,
            scores: bool = True) -> List[str]:
    problems = []
    for index, result in enumerate(results):
        if result.code != pb.OK:
            continue
        shape = list(result.shape)
        if shape != [len(images), 1000]:
            problems.append(f"result {index}: shape {shape}, expected {[len(images), 1000]}")
            continue
        if len(result.top_k) != len(images):
            problems.append(f"result {index}: {len(result.top_k)} top-k rows for {len(images)} images")
            continue
        if not scores:
            if any(not top.predictions for top in result.top_k):
                problems.append(f"result {index}: a top-k row without predictions")
            continue
        for top, name in zip(result.top_k, images):
            row = [(p.class_id, p.score) for p in top.predictions]
            want = [(c, s + offset) for c, s in GOLDEN[pathlib.Path(name).name]["top5"][: len(row)]]
            if len(row) < 1 or [c for c, _ in row] != [c for c, _ in want] or any(
                    not abs(s - ws) <= SCORE_TOLERANCE for (_, s), (_, ws) in zip(row, want)):
                problems.append(f"result {index}: top-k of {name} is {row}, golden {want}")
    return problems
