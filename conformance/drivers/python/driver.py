#!/usr/bin/env python3
"""Conformance driver for the Python client (conformance/CLIENT_SPEC.md, "Conformance drivers").

Reads one JSON request per line on stdin, writes one JSON response per line on stdout (in
order, flushed after each), exits at end of input. Uses only the public ``fpgascore`` API.

    PYTHONPATH=python/src /usr/bin/python3 conformance/drivers/python/driver.py < requests.jsonl

Choices the spec leaves open, which the Go and C# drivers mirror:
- with ``calls`` > 1, call i (1-based) sends ``x-conformance-case: <case>#<i>``;
- ``concurrency`` K > 1 runs the ``calls`` calls on K threads sharing one client (at most K in
  flight); results are listed in call order;
- ``shape`` is always 2-D (``[N, 1000]``), also for a single ``[224,224,3]`` tensor;
- a construction error (e.g. InsecureKeyError) gives one result with its code and no call;
  ``action: none`` gives one result with code OK when construction succeeded;
- ``action: metadata`` calls ``client.model_metadata()`` and reports it as ``metadata``;
- ``action: request`` sends the file's inputs and output_filter with ``client.predict`` (the
  client's own model spec) and reports the decoded output;
- a ``session`` client keeps the connection settings of its first line; each line's
  ``metadata`` is sent with that line's calls;
- ``error`` is set (and ``results`` empty) only for a line that is not a valid request.
"""
from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Optional

os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # grpc core's own log lines; stderr stays ours
if __package__ in (None, ""):  # run as a script from a checkout: find python/src
    _src = Path(__file__).resolve().parents[3] / "python" / "src"
    if _src.is_dir() and str(_src) not in sys.path:
        sys.path.insert(0, str(_src))

import numpy as np  # noqa: E402

import fpgascore  # noqa: E402

CASE = "x-conformance-case"
ACTIONS = ("images", "tensor", "request", "metadata", "none")


class BadRequest(Exception):
    """The request line is not a valid driver request."""


def _get(request: Dict[str, Any], key: str, kind: Any, default: Any = None) -> Any:
    value = request.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadRequest(f"{key!r} must be {getattr(kind, '__name__', kind)}, not {type(value).__name__}")
    return value


def _policy(retry: Optional[Dict[str, Any]]) -> fpgascore.RetryPolicy:
    if not retry:
        return fpgascore.RetryPolicy()
    if not isinstance(retry, dict):
        raise BadRequest("'retry' must be an object")
    defaults = fpgascore.RetryPolicy()
    try:
        return fpgascore.RetryPolicy(
            max_attempts=int(retry.get("max_attempts", defaults.max_attempts)),
            initial_backoff=float(retry.get("initial_backoff_ms", defaults.initial_backoff * 1000)) / 1000,
            max_backoff=float(retry.get("max_backoff_ms", defaults.max_backoff * 1000)) / 1000,
            multiplier=float(retry.get("multiplier", defaults.multiplier)))
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"bad 'retry': {exc}") from None


def _client(request: Dict[str, Any], without_metadata: bool) -> fpgascore.PredictionClient:
    host = _get(request, "host", str)
    port = _get(request, "port", int)
    if not host or port is None:
        raise BadRequest("'host' and 'port' are required")
    timeout_ms = _get(request, "timeout_ms", (int, float), 10_000)
    metadata = _get(request, "metadata", dict, {})
    return fpgascore.PredictionClient(
        host, port,
        use_ssl=bool(request.get("use_ssl", False)),
        access_token=_get(request, "access_token", str),
        secondary_access_token=_get(request, "secondary_access_token", str),
        auth_scheme=_get(request, "auth_scheme", str, "raw"),
        allow_insecure_key=bool(request.get("allow_insecure_key", False)),
        root_certificates=_get(request, "root_certificates_file", str),
        server_name_override=_get(request, "server_name_override", str),
        timeout=timeout_ms / 1000.0,
        retry_policy=_policy(request.get("retry")),
        metadata=[] if without_metadata else [(str(k), str(v)) for k, v in metadata.items()],
        **{name: value for name in ("model_name", "signature_name")
           if (value := _get(request, name, str)) is not None})


def _ok(scores: np.ndarray, k: int, info: fpgascore.CallInfo) -> Dict[str, Any]:
    rows = scores.reshape(1, -1) if scores.ndim == 1 else scores
    return {"code": "OK", "message": "", "request_id": info.request_id, "shape": list(rows.shape),
            "top_k": [[[p.class_id, p.score] for p in fpgascore.top_k(row, k)] for row in rows]}


def _metadata_ok(metadata: fpgascore.ModelMetadata, info: fpgascore.CallInfo) -> Dict[str, Any]:
    def specs(items):
        return [[spec.name, spec.dtype, list(spec.shape)] for spec in items]

    return {"code": "OK", "message": "", "request_id": info.request_id, "shape": None, "top_k": None,
            "metadata": {"model_name": metadata.model_name, "version": metadata.version,
                         "signature_name": metadata.signature_name, "inputs": specs(metadata.inputs),
                         "outputs": specs(metadata.outputs)}}


def _failed(error: BaseException) -> Dict[str, Any]:
    if isinstance(error, fpgascore.ScoringError):
        return {"code": error.code.name, "message": error.details, "request_id": error.request_id,
                "shape": None, "top_k": None}
    return {"code": "UNKNOWN", "message": f"{type(error).__name__}: {error}", "request_id": "",
            "shape": None, "top_k": None}


def _work(request: Dict[str, Any], action: str):
    """The call to make, as a function of (client, metadata, call_info)."""
    if action == "images":
        images = _get(request, "images", list, [])
        if not all(isinstance(image, str) for image in images):
            raise BadRequest("'images' must be a list of file paths")
        return lambda client, metadata, info: client.score_images(images, metadata=metadata, call_info=info)
    if action == "metadata":
        return lambda client, metadata, info: client.model_metadata(metadata=metadata, call_info=info)
    if action == "request":
        request_file = _get(request, "request_file", str)
        if not request_file:
            raise BadRequest("action 'request' needs 'request_file'")

        def send(client, metadata, info):
            message = fpgascore.PredictRequest.FromString(Path(request_file).read_bytes())
            response = client.predict(dict(message.inputs), list(message.output_filter), metadata=metadata,
                                      call_info=info)
            return fpgascore.decode_scores(response)

        return send
    tensor_file = _get(request, "tensor_file", str)
    shape = _get(request, "tensor_shape", list)
    if not tensor_file or shape is None or not all(isinstance(d, int) for d in shape):
        raise BadRequest("action 'tensor' needs 'tensor_file' and an integer list 'tensor_shape'")

    def call(client, metadata, info):
        values = np.fromfile(tensor_file, dtype="<f4")
        fpgascore.float_tensor(values, shape)  # values count vs shape: INVALID_ARGUMENT before sending
        return client.score_numpy_array(values.reshape(shape), metadata=metadata, call_info=info)

    return call


SESSIONS: Dict[str, fpgascore.PredictionClient] = {}


def handle(request: Dict[str, Any]) -> Dict[str, Any]:
    action = _get(request, "action", str, "images")
    if action not in ACTIONS:
        raise BadRequest(f"'action' must be one of {ACTIONS}")
    calls = _get(request, "calls", int, 1)
    concurrency = _get(request, "concurrency", int, 1)
    k = _get(request, "top_k", int, 5)
    if calls < 1 or concurrency < 1 or k < 0:
        raise BadRequest("'calls' and 'concurrency' must be >= 1, 'top_k' >= 0")
    work = None if action == "none" else _work(request, action)
    line_metadata = {str(key).lower(): str(value) for key, value in _get(request, "metadata", dict, {}).items()}
    base_case = line_metadata.get(CASE)
    session = _get(request, "session", str)
    # Metadata goes per call when it can differ between calls of one client: with a case id
    # suffix per call, or on a session client that outlives this line.
    per_call = session is not None or (bool(base_case) and calls > 1)
    client = SESSIONS.get(session) if session else None
    if client is None:
        try:
            client = _client(request, without_metadata=per_call)
        except fpgascore.ScoringError as error:
            return {"results": [_failed(error)]}
        except (TypeError, ValueError) as error:
            raise BadRequest(f"bad client options: {error}") from None
        if session:
            SESSIONS[session] = client
    try:
        if work is None:
            return {"results": [{"code": "OK", "message": "", "request_id": "", "shape": None, "top_k": None}]}

        def one(index: int) -> Dict[str, Any]:
            metadata = None
            if per_call:
                pairs = dict(line_metadata)
                if base_case and calls > 1:
                    pairs[CASE] = f"{base_case}#{index + 1}"
                metadata = list(pairs.items())
            info = fpgascore.CallInfo()
            try:
                value = work(client, metadata, info)
                if isinstance(value, fpgascore.ModelMetadata):
                    return _metadata_ok(value, info)
                return _ok(value, k, info)
            except Exception as error:  # noqa: BLE001 - every failure becomes a result
                return _failed(error)

        if concurrency > 1:
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                results = list(pool.map(one, range(calls)))
        else:
            results = [one(i) for i in range(calls)]
    finally:
        if not session:
            client.close()
    return {"results": results}


def main() -> int:
    for line in sys.stdin:
        if not line.strip():
            continue
        request_id = None
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise BadRequest("a request is a JSON object")
            request_id = request.get("id")
            response = {"id": request_id, **handle(request), "error": None}
        except (ValueError, BadRequest) as exc:
            response = {"id": request_id, "results": [], "error": f"bad request: {exc}"}
        except Exception as exc:  # noqa: BLE001 - the driver never dies on one line
            response = {"id": request_id, "results": [], "error": f"driver failure: {type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(response) + "\n")
        sys.stdout.flush()
    for client in SESSIONS.values():
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
