"""fpgascore's contract next to TensorFlow Serving's own generated code.

The stand-in protos in fixtures/tf_serving have TF Serving's file paths and packages. They
are compiled here (protoc + grpc_python_plugin, both installed by scripts/setup.sh) and
loaded into one process together with fpgascore's generated code and client.
"""
import json
import pathlib
import shutil
import struct
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "tf_serving"
VECTORS = ROOT / "tests" / "vectors"


@pytest.fixture(scope="module")
def tf_generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("tf_generated")
    protos = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.proto"))
    subprocess.run(["protoc", f"-I{FIXTURES}", f"--python_out={out}", f"--grpc_python_out={out}",
                    f"--plugin=protoc-gen-grpc_python={shutil.which('grpc_python_plugin')}", *protos],
                   check=True)
    for package in ("tensorflow", "tensorflow/core", "tensorflow/core/framework", "tensorflow/core/protobuf",
                    "tensorflow_serving", "tensorflow_serving/apis", "tensorflow_serving/util"):
        (out / package / "__init__.py").touch()
    return out


def run_python(code: str, *paths) -> subprocess.CompletedProcess:
    env_path = ":".join(str(p) for p in paths)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"}, timeout=120)


@pytest.mark.parametrize("order", ["tf_first", "fpgascore_first"])
def test_both_sets_of_generated_code_load_in_one_process(tf_generated, order):
    tf_import = "from tensorflow_serving.apis import prediction_service_pb2, prediction_service_pb2_grpc, predict_pb2"
    ours = "import fpgascore.v1.predict_pb2, fpgascore.v1.prediction_service_pb2_grpc, fpgascore.v1.health_service_pb2_grpc"
    first, second = (tf_import, ours) if order == "tf_first" else (ours, tf_import)
    result = run_python(f"""
        {first}
        {second}
        from google.protobuf import descriptor_pool
        pool = descriptor_pool.Default()
        print(pool.FindServiceByName('tensorflow.serving.PredictionService').file.name)
        print(pool.FindMessageTypeByName('fpgascore.v1.PredictRequest').file.name)
    """, tf_generated, ROOT / "python" / "src")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["tensorflow_serving/apis/prediction_service.proto", "fpgascore/v1/predict.proto"]


def test_registering_the_service_under_tf_serving_package_would_crash(tf_generated, tmp_path):
    """Why the generator emits no *_pb2.py for service files: this is what it would cause."""
    subprocess.run(["protoc", f"-I{ROOT / 'proto'}", f"--python_out={tmp_path}",
                    "fpgascore/v1/prediction_service.proto", "fpgascore/v1/predict.proto", "fpgascore/v1/tensor.proto",
                    "fpgascore/v1/model_metadata.proto"],
                   check=True)
    result = run_python("""
        from tensorflow_serving.apis import prediction_service_pb2
        from fpgascore.v1 import prediction_service_pb2 as ours
    """, tf_generated, tmp_path)
    assert result.returncode != 0
    assert "tensorflow.serving.PredictionService" in result.stderr


def test_wire_vectors_parse_identically_with_the_tf_serving_messages(tf_generated):
    result = run_python(f"""
        import pathlib
        from tensorflow_serving.apis import predict_pb2 as tf
        from fpgascore.v1 import predict_pb2 as ours
        for name, tf_type, our_type in [("predict_request_images.bin", tf.PredictRequest, ours.PredictRequest),
                                        ("predict_request_float_tensor.bin", tf.PredictRequest, ours.PredictRequest),
                                        ("predict_response_float_val.bin", tf.PredictResponse, ours.PredictResponse),
                                        ("predict_response_tensor_content.bin", tf.PredictResponse, ours.PredictResponse)]:
            data = pathlib.Path("{VECTORS}", name).read_bytes()
            assert tf_type.FromString(data).SerializeToString(deterministic=True) == data, name
            assert our_type.FromString(data).SerializeToString(deterministic=True) == data, name
        print("ok")
    """, tf_generated, ROOT / "python" / "src")
    assert result.returncode == 0, result.stderr


GOLDEN = json.loads((ROOT / "conformance" / "testdata" / "golden.json").read_text())
IMAGE = ROOT / "conformance" / "testdata" / "images" / "gradient.jpg"


def run_tf_client(tf_generated, target: str, body: str) -> subprocess.CompletedProcess:
    """Runs ``body`` with TF Serving's stand-in stubs (no fpgascore code on the path) and
    ``stub``/``models`` connected to ``target``."""
    return run_python(textwrap.dedent(f"""
        import grpc, hashlib, json, pathlib, struct
        from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                             predict_pb2, prediction_service_pb2_grpc)
        from tensorflow.core.framework import types_pb2
        channel = grpc.insecure_channel("{target}")
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        models = model_service_pb2_grpc.ModelServiceStub(channel)
        def image_request():
            request = predict_pb2.PredictRequest()
            request.inputs["images"].dtype = types_pb2.DT_STRING
            request.inputs["images"].tensor_shape.dim.add(size=1)
            request.inputs["images"].string_val.append(pathlib.Path("{IMAGE}").read_bytes())
            return request
        def failure(call):
            try:
                call()
            except grpc.RpcError as error:
                return [error.code().name, error.details()]
            return ["OK", ""]
    """) + textwrap.dedent(body), tf_generated)


@pytest.fixture(scope="module")
def default_server():
    from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig
    with EmulatorProcess(ServerConfig(conformance=False)) as server:
        yield server


def test_a_float_val_only_reader_gets_1000_scores_from_the_default_server(tf_generated, default_server):
    """The original clients read float_val only, and their requests carried no model_spec."""
    result = run_tf_client(tf_generated, default_server.target, """
        request = image_request()
        assert not request.HasField("model_spec")
        response = stub.Predict(request, timeout=30)
        output = response.outputs["output_alias"]
        scores = list(output.float_val)
        print(json.dumps({"shape": [d.size for d in output.tensor_shape.dim], "values": len(scores),
                          "tensor_content": len(output.tensor_content),
                          "sha256": hashlib.sha256(struct.pack("<%df" % len(scores), *scores)).hexdigest(),
                          "model": [response.model_spec.name, response.model_spec.version.value,
                                    response.model_spec.HasField("version"), response.model_spec.signature_name]}))
    """)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer == {"shape": [1, 1000], "values": 1000, "tensor_content": 0,
                      "sha256": GOLDEN["gradient.jpg"]["sha256"],
                      "model": ["resnet50", 1, True, "serving_default"]}


def test_a_tensor_content_only_reader_gets_the_same_scores_when_the_server_is_set_so(tf_generated):
    from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig
    config = ServerConfig(conformance=False, extra_env={"FPGASCORE_RESPONSE_ENCODING": "tensor_content"})
    with EmulatorProcess(config) as server:
        result = run_tf_client(tf_generated, server.target, """
            output = stub.Predict(image_request(), timeout=30).outputs["output_alias"]
            print(len(output.float_val), hashlib.sha256(output.tensor_content).hexdigest())
        """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", GOLDEN["gradient.jpg"]["sha256"]]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _as_proto_field(values, shape) -> bytes:
    """A DT_FLOAT TensorProto as TensorFlow's Tensor::AsProtoField writes it: dtype, the shape's
    dims, every value in packed float_val; no tensor_content, no version_number."""
    dims = b"".join(_field(2, _varint(1 << 3) + _varint(size)) for size in shape)
    return (_varint(1 << 3) + _varint(1) + _field(2, dims)
            + _field(5, struct.pack(f"<{len(values)}f", *values)))


def test_the_default_answer_is_byte_for_byte_what_tf_serving_writes(tf_generated, default_server):
    """The whole response, encoded here from the wire format: outputs then model_spec, in field
    order, as TF Serving's C++ serializer writes them."""
    result = run_tf_client(tf_generated, default_server.target, """
        raw = channel.unary_unary("/tensorflow.serving.PredictionService/Predict",
                                  request_serializer=lambda m: m.SerializeToString(),
                                  response_deserializer=lambda data: data)
        data = raw(image_request(), timeout=30)
        scores = list(predict_pb2.PredictResponse.FromString(data).outputs["output_alias"].float_val)
        print(json.dumps({"hex": data.hex(), "scores": scores}))
    """)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    tensor = _as_proto_field(answer["scores"], (1, 1000))
    entry = _field(1, b"output_alias") + _field(2, tensor)
    spec = _field(1, b"resnet50") + _field(2, _varint(1 << 3) + _varint(1)) + _field(3, b"serving_default")
    assert bytes.fromhex(answer["hex"]) == _field(1, entry) + _field(2, spec)


@pytest.mark.parametrize("spec, code, message", [
    ({"name": "inception"}, "NOT_FOUND", "Servable not found for request: Latest(inception)"),
    ({"name": "resnet50", "version": 7}, "NOT_FOUND", "Servable not found for request: Specific(resnet50, 7)"),
    ({"version": 2}, "NOT_FOUND", "Servable not found for request: Specific(resnet50, 2)"),
    ({"name": "resnet50", "signature_name": "classify"}, "INVALID_ARGUMENT",
     'Serving signature name: "classify" not found in signature def'),
    ({"name": "", "version": 1, "signature_name": ""}, "OK", ""),
    ({"name": "resnet50", "signature_name": "serving_default"}, "OK", ""),
])
def test_model_spec_is_resolved_as_tf_serving_does(tf_generated, default_server, spec, code, message):
    result = run_tf_client(tf_generated, default_server.target, f"""
        request = image_request()
        spec = {spec!r}
        request.model_spec.name = spec.get("name", "")
        request.model_spec.signature_name = spec.get("signature_name", "")
        if "version" in spec:
            request.model_spec.version.value = spec["version"]
        print(json.dumps(failure(lambda: stub.Predict(request, timeout=30))))
    """)
    assert result.returncode == 0, result.stderr
    got_code, details = json.loads(result.stdout)
    assert got_code == code and message in details, details
    if code == "NOT_FOUND":
        assert "this server serves 'resnet50' version 1" in details


def test_an_unknown_model_name_is_echoed_bounded(tf_generated, default_server):
    result = run_tf_client(tf_generated, default_server.target, """
        request = image_request()
        request.model_spec.name = "m" * 1_000_000
        print(json.dumps(failure(lambda: stub.Predict(request, timeout=30))))
    """)
    assert result.returncode == 0, result.stderr
    code, details = json.loads(result.stdout)
    assert code == "NOT_FOUND" and len(details) < 600 and "(999800 more characters)" in details


def test_get_model_metadata_answers_the_signature_as_tf_serving_does(tf_generated, default_server):
    result = run_tf_client(tf_generated, default_server.target, """
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        request.model_spec.name = "resnet50"
        response = stub.GetModelMetadata(request, timeout=30)
        packed = response.metadata["signature_def"]
        signatures = get_model_metadata_pb2.SignatureDefMap()
        assert packed.Unpack(signatures), packed.type_url
        def describe(infos):
            return {name: [info.name, types_pb2.DataType.Name(info.dtype), [d.size for d in info.tensor_shape.dim]]
                    for name, info in sorted(infos.items())}
        print(json.dumps({"type_url": packed.type_url,
                          "spec": [response.model_spec.name, response.model_spec.version.value],
                          "signatures": {key: {"method": sig.method_name, "inputs": describe(sig.inputs),
                                               "outputs": describe(sig.outputs)}
                                         for key, sig in signatures.signature_def.items()}}))
    """)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "type_url": "type.googleapis.com/tensorflow.serving.SignatureDefMap",
        "spec": ["resnet50", 1],
        "signatures": {"serving_default": {
            "method": "tensorflow/serving/predict",
            "inputs": {"images": ["images:0", "DT_STRING", [-1]]},
            "outputs": {"features": ["features:0", "DT_FLOAT", [-1, 2048]],
                        "output_alias": ["output_alias:0", "DT_FLOAT", [-1, 1000]]}}}}


@pytest.mark.parametrize("fields, name, code, message", [
    ([], "resnet50", "INVALID_ARGUMENT", "must specify at least one metadata_field"),
    (["signature_def", "graph_def"], "resnet50", "INVALID_ARGUMENT",
     "Metadata field 'graph_def' is not supported; supported: \"signature_def\""),
    (["signature_def"], "inception", "NOT_FOUND", "Servable not found for request: Latest(inception)"),
    (["signature_def"], "", "OK", ""),
])
def test_get_model_metadata_refuses_what_it_does_not_serve(tf_generated, default_server, fields, name, code,
                                                           message):
    result = run_tf_client(tf_generated, default_server.target, f"""
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field={fields!r})
        request.model_spec.name = {name!r}
        print(json.dumps(failure(lambda: stub.GetModelMetadata(request, timeout=30))))
    """)
    assert result.returncode == 0, result.stderr
    got_code, details = json.loads(result.stdout)
    assert got_code == code and message in details, details


def test_get_model_status_reports_the_served_version_available(tf_generated, default_server):
    result = run_tf_client(tf_generated, default_server.target, """
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = "resnet50"
        status = models.GetModelStatus(request, timeout=30).model_version_status
        unknown = get_model_status_pb2.GetModelStatusRequest()
        unknown.model_spec.name = "inception"
        print(json.dumps({"versions": [[s.version, get_model_status_pb2.ModelVersionStatus.State.Name(s.state),
                                        s.status.error_code] for s in status],
                          "unknown": failure(lambda: models.GetModelStatus(unknown, timeout=30))[0]}))
    """)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"versions": [[1, "AVAILABLE", 0]], "unknown": "NOT_FOUND"}
