"""Generated requests against the running server (hypothesis): whatever arrives, the server
answers with OK or a precise INVALID_ARGUMENT / RESOURCE_EXHAUSTED, stays up, and its memory
does not grow without bound."""
import io
import struct
import zlib

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from fpgascore.v1 import health_pb2, health_service_pb2_grpc, predict_pb2, tensor_pb2

from . import rpc

ALLOWED = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED}
GRADIENT = rpc.image("gradient.jpg")
PNG = rpc.image("checkerboard.png")


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 32)) + chunk(b"IEND", b""))


def _small_jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 60)).save(buffer, format="JPEG")
    return buffer.getvalue()


image_bytes = st.one_of(
    st.binary(max_size=64),
    st.integers(0, len(GRADIENT)).map(lambda n: GRADIENT[:n]),            # truncated JPEG
    st.integers(0, len(PNG)).map(lambda n: PNG[:n]),                       # truncated PNG
    st.tuples(st.integers(0, 70_000), st.integers(0, 70_000)).map(lambda wh: _png_header(*wh)),  # bombs, 0-sized
    st.tuples(st.integers(1, 40), st.integers(1, 40)).map(lambda wh: _small_jpeg(*wh)),
    st.just(GRADIENT),
)
dims = st.lists(st.one_of(st.integers(-3, 4), st.sampled_from([224, 3, 2**31, 2**62, -2**40])), max_size=5)
dtypes = st.one_of(st.sampled_from([0, 1, 2, 3, 4, 7, 9, 10, 19]), st.integers(-5, 200))


@st.composite
def requests(draw):
    request = predict_pb2.PredictRequest()
    name = draw(st.sampled_from(["images", "images", "images", "pixels", ""]))
    tensor = request.inputs[name]
    tensor.dtype = draw(dtypes)
    for size in draw(dims):
        tensor.tensor_shape.dim.add(size=size)
    tensor.tensor_shape.unknown_rank = draw(st.booleans()) and draw(st.booleans())  # one in four
    content = draw(st.sampled_from(["strings", "floats", "content", "both", "none"]))
    if content in ("strings", "both"):
        tensor.string_val.extend(draw(st.lists(image_bytes, max_size=4)))
    if content in ("floats", "both"):
        tensor.float_val.extend(draw(st.lists(st.floats(allow_nan=True, width=32), max_size=50)))
    if content == "content":
        tensor.tensor_content = draw(st.binary(max_size=256))
    if draw(st.booleans()):
        request.inputs[draw(st.sampled_from(["extra", "images"]))].dtype = tensor_pb2.DT_STRING
    request.output_filter.extend(draw(st.lists(st.sampled_from(["output_alias", "features", "logits", ""]),
                                               max_size=2)))
    return request


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


@pytest.fixture(scope="module")
def baseline_rss(plain_server, caller):
    caller.predict(rpc.image_request([GRADIENT]))  # warm up: weights, imports, thread pool
    return _rss_kib(plain_server.pid)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(request=requests())
def test_any_request_gets_a_precise_status(caller, baseline_rss, request):
    try:
        response, trailing = caller.predict(request, timeout=30)
        code, details = grpc.StatusCode.OK, ""
        assert response.outputs
    except grpc.RpcError as error:
        code, details, trailing = error.code(), error.details(), rpc.trailing(error)
    assert code in ALLOWED, (code, details)
    if code != grpc.StatusCode.OK:
        assert details and "internal error" not in details
        assert trailing.get("request-id")


def test_the_server_is_healthy_and_bounded_after_fuzzing(plain_server, caller, baseline_rss):
    channel = grpc.insecure_channel(plain_server.target)
    reply = health_service_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    grown_mib = (_rss_kib(plain_server.pid) - baseline_rss) / 1024
    assert grown_mib < 150, f"server RSS grew by {grown_mib:.0f} MiB"
    assert "Traceback" not in plain_server.logs()
