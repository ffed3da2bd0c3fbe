#!/usr/bin/env python3
"""Conformance driver for the Python client: the driver protocol of
proto/fpgascore/conformance/v1/driver.proto (conformance/README.md) over stdin and stdout.

The first line is the runner's Hello, answered with a HelloAnswer; then one DriverRequest
per line, each answered with one DriverAnswer (in order, flushed after each); exits at end of
input. Messages are read and written with the generated types and protobuf's JSON mapping.
Uses only the public ``fpgascore`` API.

    PYTHONPATH=python/src:conformance/runner/src /usr/bin/python3 conformance/drivers/python/driver.py
    VENV/bin/python conformance/drivers/python/driver.py --where   # which fpgascore it drives (JSON)

An installed ``fpgascore`` (e.g. the wheel in a virtual environment: the runner's --artifacts)
is the one driven; only a client that is not importable is looked for in the checkout.

Choices the spec leaves open, which the Go and C# drivers mirror:
- with ``calls`` > 1, call i (1-based) sends ``x-conformance-case: <case>#<i>``;
- ``concurrency`` K > 1 runs the ``calls`` calls on K threads sharing one client (at most K in
  flight); results are listed in call order;
- ``shape`` is always 2-D (``[N, 1000]``), also for a single ``[224,224,3]`` tensor;
- a construction error (e.g. InsecureKeyError) gives one result with its code and no call;
  ``ACTION_NONE`` gives one result with code OK when construction succeeded;
- ``ACTION_METADATA`` calls ``client.model_metadata()`` and reports it as ``metadata``;
- ``ACTION_REQUEST`` sends the file's inputs and output_filter with ``client.predict`` (the
  client's own model spec) and reports the decoded output;
- a ``session`` client keeps the connection settings of its first line; each line's
  ``metadata`` is sent with that line's calls;
- ``cancel_after_ms`` > 0: each call is made with the asyncio client (``AsyncPredictionClient``,
  same options, a fresh client per call) as a task that is cancelled after that long, the way
  asyncio code cancels; the ``CancelledError`` it ends with is reported as CANCELLED;
- ``error`` is set (and ``results`` empty) only for a line that is not a valid request.
"""
from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Optional

os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # grpc core's own log lines; stderr stays ours
if __package__ in (None, ""):  # run as a script from a checkout: find python/src and the protocol
    # ... only what is not importable already: with an installed client (a wheel in a virtual
    # environment: --artifacts), that client is the one driven, never the checkout's.
    _root = Path(__file__).resolve().parents[3]
    for _module, _src in (("fpgascore", _root / "python" / "src"),
                          ("fpgascore_conformance", _root / "conformance" / "runner" / "src")):
        if importlib.util.find_spec(_module) is None and _src.is_dir():
            sys.path.append(str(_src))

import numpy as np  # noqa: E402
from google.protobuf import json_format  # noqa: E402

import fpgascore  # noqa: E402
from fpgascore_conformance.v1 import driver_pb2 as pb  # noqa: E402

PROTOCOL_VERSION = "1.1"
CASE = "x-conformance-case"


class BadRequest(Exception):
    """The request line is not a valid driver request."""


def _optional(message, field: str):
    return getattr(message, field) if message.HasField(field) else None


def _policy(request: pb.DriverRequest) -> fpgascore.RetryPolicy:
    defaults = fpgascore.RetryPolicy()
    if not request.HasField("retry"):
        return defaults
    retry = request.retry

    def ms(field: str, default_s: float) -> float:
        value = _optional(retry, field)
        return default_s if value is None else value / 1000.0

    try:
        return fpgascore.RetryPolicy(
            max_attempts=_optional(retry, "max_attempts") or defaults.max_attempts,
            initial_backoff=ms("initial_backoff_ms", defaults.initial_backoff),
            max_backoff=ms("max_backoff_ms", defaults.max_backoff),
            multiplier=_optional(retry, "multiplier") or defaults.multiplier)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"bad 'retry': {exc}") from None


def _client(request: pb.DriverRequest, without_metadata: bool, kind: Any = fpgascore.PredictionClient) -> Any:
    if not request.host or not request.port:
        raise BadRequest("'host' and 'port' are required")
    timeout_ms = _optional(request, "timeout_ms")
    if timeout_ms is not None and timeout_ms <= 0:
        raise BadRequest("'timeout_ms' must be positive")
    if request.auth_scheme not in (pb.AUTH_SCHEME_UNSPECIFIED, pb.AUTH_SCHEME_RAW, pb.AUTH_SCHEME_BEARER):
        raise BadRequest(f"unknown 'auth_scheme' {request.auth_scheme}")
    return kind(
        request.host, request.port,
        use_ssl=request.use_ssl,
        access_token=_optional(request, "access_token"),
        secondary_access_token=_optional(request, "secondary_access_token"),
        auth_scheme="bearer" if request.auth_scheme == pb.AUTH_SCHEME_BEARER else "raw",
        allow_insecure_key=request.allow_insecure_key,
        root_certificates=request.root_certificates_file or None,
        server_name_override=request.server_name_override or None,
        timeout=10.0 if timeout_ms is None else timeout_ms / 1000.0,
        retry_policy=_policy(request),
        metadata=[] if without_metadata else [(k.lower(), v) for k, v in request.metadata.items()],
        **{name: value for name in ("model_name", "signature_name")
           if (value := _optional(request, name)) is not None})


def _ok(scores: np.ndarray, k: int, info: fpgascore.CallInfo) -> pb.CallResult:
    rows = scores.reshape(1, -1) if scores.ndim == 1 else scores
    return pb.CallResult(
        code=pb.OK, request_id=info.request_id, shape=list(rows.shape),
        top_k=[pb.TopK(predictions=[pb.Prediction(class_id=p.class_id, score=p.score)
                                    for p in fpgascore.top_k(row, k)]) for row in rows])


def _metadata_ok(metadata: fpgascore.ModelMetadata, info: fpgascore.CallInfo) -> pb.CallResult:
    def specs(items):
        return [pb.TensorSpec(name=spec.name, dtype=spec.dtype, shape=list(spec.shape)) for spec in items]

    result = pb.CallResult(code=pb.OK, request_id=info.request_id)
    result.metadata.CopyFrom(pb.ModelMetadata(
        model_name=metadata.model_name, version=metadata.version, signature_name=metadata.signature_name,
        inputs=specs(metadata.inputs), outputs=specs(metadata.outputs)))
    return result


def _failed(error: BaseException) -> pb.CallResult:
    if isinstance(error, fpgascore.ScoringError):
        return pb.CallResult(code=error.code.value[0], message=error.details, request_id=error.request_id)
    return pb.CallResult(code=pb.UNKNOWN, message=f"{type(error).__name__}: {error}")


def _work(request: pb.DriverRequest):
    """The call to make, as a function of (client, metadata, call_info)."""
    action = request.action
    if action == pb.ACTION_IMAGES:
        images = list(request.images)
        return lambda client, metadata, info: client.score_images(images, metadata=metadata, call_info=info)
    if action == pb.ACTION_METADATA:
        return lambda client, metadata, info: client.model_metadata(metadata=metadata, call_info=info)
    if action == pb.ACTION_REQUEST:
        request_file = request.request_file
        if not request_file:
            raise BadRequest("ACTION_REQUEST needs 'request_file'")

        def send(client, metadata, info):
            message = fpgascore.PredictRequest.FromString(Path(request_file).read_bytes())
            response = client.predict(dict(message.inputs), list(message.output_filter), metadata=metadata,
                                      call_info=info)
            return fpgascore.decode_scores(response)

        return send
    if action == pb.ACTION_TENSOR:
        tensor_file, shape = request.tensor_file, list(request.tensor_shape)
        if not tensor_file or not shape:
            raise BadRequest("ACTION_TENSOR needs 'tensor_file' and 'tensor_shape'")

        def call(client, metadata, info):
            values = np.fromfile(tensor_file, dtype="<f4")
            fpgascore.float_tensor(values, shape)  # values count vs shape: INVALID_ARGUMENT before sending
            return client.score_numpy_array(values.reshape(shape), metadata=metadata, call_info=info)

        return call
    if action == pb.ACTION_NONE:
        return None
    raise BadRequest(f"'action' must be one of {[n for n in pb.Action.keys() if n != 'ACTION_UNSPECIFIED']}")


SESSIONS: Dict[str, fpgascore.PredictionClient] = {}


def handle(request: pb.DriverRequest) -> pb.DriverAnswer:
    calls = request.calls or 1
    concurrency = request.concurrency or 1
    k = request.top_k if request.HasField("top_k") else 5
    if calls < 1 or concurrency < 1 or k < 0:
        raise BadRequest("'calls' and 'concurrency' must be >= 1, 'top_k' >= 0")
    work = _work(request)
    line_metadata = {key.lower(): value for key, value in request.metadata.items()}
    base_case = line_metadata.get(CASE)
    session = request.session or None
    # Metadata goes per call when it can differ between calls of one client: with a case id
    # suffix per call, or on a session client that outlives this line.
    per_call = session is not None or (bool(base_case) and calls > 1)
    client = SESSIONS.get(session) if session else None
    answer = pb.DriverAnswer(id=request.id)
    if client is None:
        try:
            client = _client(request, without_metadata=per_call)
        except fpgascore.ScoringError as error:
            answer.results.append(_failed(error))
            return answer
        except (TypeError, ValueError) as error:
            raise BadRequest(f"bad client options: {error}") from None
        if session:
            SESSIONS[session] = client
    try:
        if work is None:
            answer.results.append(pb.CallResult(code=pb.OK))
            return answer

        def one(index: int) -> pb.CallResult:
            metadata = None
            if per_call:
                pairs = dict(line_metadata)
                if base_case and calls > 1:
                    pairs[CASE] = f"{base_case}#{index + 1}"
                metadata = list(pairs.items())
            info = fpgascore.CallInfo()
            try:
                value = (_cancelled(request, work, metadata, info) if request.cancel_after_ms > 0
                         else work(client, metadata, info))
                result = _metadata_ok(value, info) if isinstance(value, fpgascore.ModelMetadata) else _ok(value, k, info)
            except Exception as error:  # noqa: BLE001 - every failure becomes a result
                result = _failed(error)
            for key, text in info.trailing_metadata:
                if key not in result.trailers:  # a key sent twice keeps its first value
                    result.trailers[key] = text
            return result

        if concurrency > 1:
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                answer.results.extend(pool.map(one, range(calls)))
        else:
            answer.results.extend(one(i) for i in range(calls))
    finally:
        if not session:
            client.close()
    return answer


def _cancelled(request: pb.DriverRequest, work, metadata: Optional[list], info: fpgascore.CallInfo) -> Any:
    """The call made with the asyncio client as a task cancelled ``cancel_after_ms`` after it
    started; CANCELLED (a ScoringError) when the cancellation ended it."""
    async def call_then_cancel() -> Any:
        async with _client(request, without_metadata=metadata is not None, kind=fpgascore.AsyncPredictionClient) as client:
            task = asyncio.ensure_future(work(client, metadata, info))
            done, _ = await asyncio.wait({task}, timeout=request.cancel_after_ms / 1000.0)
            if not done:
                task.cancel()
            try:
                return await task
            except asyncio.CancelledError:
                raise fpgascore.CancelledError("the caller cancelled the call (its asyncio task)") from None

    return asyncio.run(call_then_cancel())


def hello_answer() -> pb.HelloAnswer:
    return pb.HelloAnswer(protocol_version=PROTOCOL_VERSION, driver="fpgascore-python-driver",
                          client="fpgascore", client_version=fpgascore.__version__, language="python")


def _id_of(line: str) -> str:
    """The id of a line that does not parse as a DriverRequest (e.g. an enum name this driver
    does not know), so that its error answer still names it; "" when there is none."""
    try:
        value = json.loads(line).get("id")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def answer_line(line: str) -> pb.DriverAnswer:
    """The answer to one request line; never raises."""
    request_id = ""
    try:
        try:
            request = json_format.Parse(line, pb.DriverRequest(), ignore_unknown_fields=True)
        except json_format.ParseError:
            request_id = _id_of(line)
            raise
        request_id = request.id
        return handle(request)
    except (json_format.ParseError, BadRequest) as exc:
        return pb.DriverAnswer(id=request_id, error=f"bad request: {exc}")
    except Exception as exc:  # noqa: BLE001 - the driver never dies on one line
        return pb.DriverAnswer(id=request_id, error=f"driver failure: {type(exc).__name__}: {exc}")


def main() -> int:
    first = True
    for line in sys.stdin:
        if not line.strip():
            continue
        if first:  # the runner's Hello; whatever its version, say ours (the runner decides)
            first = False
            try:
                hello = json_format.Parse(line, pb.Hello(), ignore_unknown_fields=True)
            except json_format.ParseError as exc:
                hello = exc
            if not isinstance(hello, pb.Hello) or not hello.protocol_version:
                print(f"driver: the first line is not a Hello with a protocolVersion ({hello}): {line[:200]!r}",
                      file=sys.stderr)
                return 2
            answer = hello_answer()
        else:
            answer = answer_line(line)
        sys.stdout.write(json_format.MessageToJson(answer, indent=None) + "\n")
        sys.stdout.flush()
    for client in SESSIONS.values():
        client.close()
    return 0


def where() -> dict:
    """Which client this driver drives: ``driver.py --where`` prints it as JSON and exits (the
    runner's --artifacts mode checks that it is the installed wheel, not the checkout)."""
    return {"fpgascore": str(Path(fpgascore.__file__).resolve()), "version": fpgascore.__version__,
            "python": sys.executable, "prefix": sys.prefix}


if __name__ == "__main__":
    if sys.argv[1:] == ["--where"]:
        print(json.dumps(where()))
        sys.exit(0)
    sys.exit(main())
