#!/usr/bin/env python3
"""A conformance driver with no client behind it: the raw generated gRPC stub.

It speaks the driver protocol (proto/fpgascore/conformance/v1/driver.proto) and does only
what the protocol needs: builds the request from the line, calls the generated stub
(``fpgascore.v1``, grpcio) once per call with the line's metadata, key and timeout, and
reports what gRPC gave back (code, details, the ``request-id`` trailer; the scores' top-k).
No retries, no key failover, no key checks (no trimming, no refusal over plaintext), no
local input checks, no error classification, no deadline handling beyond passing the
timeout. tests/conformance_runner/test_raw_stub.py runs the conformance suite with it and
checks that the suite fails it exactly where a client's own logic is needed.

    /usr/bin/python3 conformance/drivers/raw_stub/driver.py   # the Hello first, then requests
"""
from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("GRPC_VERBOSITY", "NONE")
_ROOT = Path(__file__).resolve().parents[3]
for _src in (_ROOT / "python" / "src", _ROOT / "conformance" / "runner" / "src"):
    if str(_src) not in sys.path:
        sys.path.insert(0, str(_src))

import grpc  # noqa: E402
import numpy as np  # noqa: E402
from google.protobuf import json_format  # noqa: E402

from fpgascore.v1 import model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc, tensor_pb2  # noqa: E402
from fpgascore_conformance.v1 import driver_pb2 as pb  # noqa: E402

CASE = "x-conformance-case"
CHANNELS: dict = {}


def channel(request: pb.DriverRequest) -> grpc.Channel:
    target = f"{request.host}:{request.port}"
    if not request.use_ssl:
        return grpc.insecure_channel(target)
    roots = Path(request.root_certificates_file).read_bytes() if request.root_certificates_file else None
    options = [("grpc.ssl_target_name_override", request.server_name_override)] if request.server_name_override else []
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=roots), options)


def shape(dims) -> tensor_pb2.TensorShapeProto:
    return tensor_pb2.TensorShapeProto(dim=[tensor_pb2.TensorShapeProto.Dim(size=d) for d in dims])


def model_spec(request: pb.DriverRequest) -> predict_pb2.ModelSpec:
    return predict_pb2.ModelSpec(name=request.model_name if request.HasField("model_name") else "resnet50",
                                 signature_name=request.signature_name if request.HasField("signature_name")
                                 else "serving_default")


def predict_request(request: pb.DriverRequest) -> predict_pb2.PredictRequest:
    message = predict_pb2.PredictRequest(model_spec=model_spec(request))
    if request.action == pb.ACTION_IMAGES:
        images = [Path(p).read_bytes() for p in request.images]
        message.inputs["images"].CopyFrom(tensor_pb2.TensorProto(
            dtype=tensor_pb2.DT_STRING, tensor_shape=shape([len(images)]), string_val=images))
    elif request.action == pb.ACTION_TENSOR:
        message.inputs["images"].CopyFrom(tensor_pb2.TensorProto(
            dtype=tensor_pb2.DT_FLOAT, tensor_shape=shape(request.tensor_shape),
            tensor_content=Path(request.tensor_file).read_bytes()))
    else:  # ACTION_REQUEST
        stored = predict_pb2.PredictRequest.FromString(Path(request.request_file).read_bytes())
        for name, tensor in stored.inputs.items():
            message.inputs[name].CopyFrom(tensor)
        message.output_filter.extend(stored.output_filter)
    return message


def scores_result(response: predict_pb2.PredictResponse, k: int, request_id: str) -> pb.CallResult:
    output = response.outputs["output_alias"]
    values = (np.frombuffer(output.tensor_content, dtype="<f4") if output.tensor_content
              else np.asarray(output.float_val, dtype=np.float32))
    dims = [d.size for d in output.tensor_shape.dim]
    rows = values.reshape(dims)
    return pb.CallResult(code=pb.OK, request_id=request_id, shape=dims, top_k=[
        pb.TopK(predictions=[pb.Prediction(class_id=int(i), score=float(row[i]))
                             for i in np.argsort(-row.astype(np.float64), kind="stable")[:k]]) for row in rows])


def metadata_result(request: pb.DriverRequest, response, request_id: str) -> pb.CallResult:
    # The Any's type URL names tensorflow.serving.SignatureDefMap, whose fields fpgascore.v1's is.
    signatures = model_metadata_pb2.SignatureDefMap.FromString(response.metadata["signature_def"].value)
    signature_name = model_spec(request).signature_name
    signature = signatures.signature_def[signature_name]

    def specs(tensors):
        return [pb.TensorSpec(name=name, dtype=tensor_pb2.DataType.Name(info.dtype),
                              shape=[d.size for d in info.tensor_shape.dim]) for name, info in sorted(tensors.items())]

    described = pb.ModelMetadata(model_name=response.model_spec.name, signature_name=signature_name,
                                 inputs=specs(signature.inputs), outputs=specs(signature.outputs))
    if response.model_spec.HasField("version"):
        described.version = response.model_spec.version.value
    return pb.CallResult(code=pb.OK, request_id=request_id, metadata=described)


def request_id_of(call) -> str:
    for key, value in list(call.trailing_metadata() or ()) + list(call.initial_metadata() or ()):
        if key == "request-id":
            return value
    return ""


def with_trailers(result: pb.CallResult, call) -> pb.CallResult:
    """The result with the call's text trailers (the server's echo among them)."""
    for key, value in call.trailing_metadata() or ():
        if isinstance(value, str) and key not in result.trailers:
            result.trailers[key] = value
    return result


def one_call(stub, request: pb.DriverRequest, metadata, k: int) -> pb.CallResult:
    timeout = (request.timeout_ms if request.HasField("timeout_ms") else 10000) / 1000.0
    try:
        if request.action == pb.ACTION_METADATA:
            ask = model_metadata_pb2.GetModelMetadataRequest(model_spec=predict_pb2.ModelSpec(
                name=model_spec(request).name), metadata_field=["signature_def"])
            response, call = stub.GetModelMetadata.with_call(ask, timeout=timeout, metadata=metadata)
            return with_trailers(metadata_result(request, response, request_id_of(call)), call)
        if request.cancel_after_ms > 0:  # the caller cancels the call's future
            future = stub.Predict.future(predict_request(request), timeout=timeout, metadata=metadata)
            try:
                response = future.result(timeout=request.cancel_after_ms / 1000.0)
            except grpc.FutureTimeoutError:
                future.cancel()
                return pb.CallResult(code=pb.CANCELLED, message="cancelled by the caller")
            return with_trailers(scores_result(response, k, request_id_of(future)), future)
        response, call = stub.Predict.with_call(predict_request(request), timeout=timeout, metadata=metadata)
        return with_trailers(scores_result(response, k, request_id_of(call)), call)
    except grpc.RpcError as error:
        return with_trailers(pb.CallResult(code=error.code().value[0], message=error.details() or "",
                                           request_id=request_id_of(error)), error)
    except Exception as error:  # noqa: BLE001 - a file that cannot be read, an answer that does not decode
        return pb.CallResult(code=pb.UNKNOWN, message=f"{type(error).__name__}: {error}")


def handle(request: pb.DriverRequest) -> pb.DriverAnswer:
    answer = pb.DriverAnswer(id=request.id)
    if request.session and request.session in CHANNELS:
        chan = CHANNELS[request.session]
    else:
        chan = CHANNELS[request.session] = channel(request)
    try:
        if request.action == pb.ACTION_NONE:
            answer.results.append(pb.CallResult(code=pb.OK))
            return answer
        if request.action == pb.ACTION_UNSPECIFIED:
            return pb.DriverAnswer(id=request.id, error="bad request: no action")
        stub = prediction_service_pb2_grpc.PredictionServiceStub(chan)
        calls, k = request.calls or 1, request.top_k if request.HasField("top_k") else 5
        pairs = [(key.lower(), value) for key, value in request.metadata.items()]
        if request.HasField("access_token"):
            scheme = "Bearer " if request.auth_scheme == pb.AUTH_SCHEME_BEARER else ""
            pairs.append(("authorization", scheme + request.access_token))

        def metadata_of(index: int):
            if calls == 1:
                return pairs
            return [(key, f"{value}#{index + 1}" if key == CASE else value) for key, value in pairs]

        with ThreadPoolExecutor(max_workers=request.concurrency or 1) as pool:
            answer.results.extend(pool.map(lambda i: one_call(stub, request, metadata_of(i), k), range(calls)))
        return answer
    finally:
        if not request.session:
            CHANNELS.pop("", None)
            chan.close()


def main() -> int:
    lines = (line for line in sys.stdin if line.strip())
    json_format.Parse(next(lines, "{}"), pb.Hello(), ignore_unknown_fields=True)
    hello = pb.HelloAnswer(protocol_version="1.1", driver="raw-stub-driver", client="grpcio generated stub",
                           client_version=grpc.__version__, language="python")
    print(json_format.MessageToJson(hello, indent=None), flush=True)
    for line in lines:
        try:
            answer = handle(json_format.Parse(line, pb.DriverRequest(), ignore_unknown_fields=True))
        except Exception as error:  # noqa: BLE001
            answer = pb.DriverAnswer(id=str(json.loads(line).get("id", "")), error=f"driver failure: {error}")
        print(json_format.MessageToJson(answer, indent=None), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
