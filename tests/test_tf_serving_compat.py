"""fpgascore's contract next to TensorFlow Serving's own generated code.

The stand-in protos in fixtures/tf_serving have TF Serving's file paths and packages. They
are compiled here (protoc + grpc_python_plugin, both installed by scripts/setup.sh) and
loaded into one process together with fpgascore's generated code and client.
"""
import pathlib
import shutil
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
    for package in ("tensorflow", "tensorflow/core", "tensorflow/core/framework", "tensorflow_serving",
                    "tensorflow_serving/apis"):
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
                    "fpgascore/v1/prediction_service.proto", "fpgascore/v1/predict.proto", "fpgascore/v1/tensor.proto"],
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


def test_a_tf_serving_client_scores_against_the_reference_server(tf_generated):
    from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig
    image = ROOT / "conformance" / "testdata" / "images" / "gradient.jpg"
    with EmulatorProcess(ServerConfig()) as server:
        result = run_python(f"""
            import grpc, pathlib
            from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
            from tensorflow.core.framework import types_pb2
            request = predict_pb2.PredictRequest()
            request.model_spec.name = "resnet50"
            request.inputs["images"].dtype = types_pb2.DT_STRING
            request.inputs["images"].tensor_shape.dim.add(size=1)
            request.inputs["images"].string_val.append(pathlib.Path("{image}").read_bytes())
            stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel("{server.target}"))
            output = stub.Predict(request, timeout=30).outputs["output_alias"]
            print([d.size for d in output.tensor_shape.dim], len(output.tensor_content))
        """, tf_generated)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[1, 1000] 4000"
