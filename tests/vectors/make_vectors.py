"""Writes the shared wire vectors in this folder (run from the repo root).

The vectors pin the exact bytes every client must produce for the same logical request and
the floats every client must decode from the same response. They are built field by field
here, not with any client, so they are an independent reference; each language's tests
compare its client's output with these files.

    /usr/bin/python3 tests/vectors/make_vectors.py
"""
import json
import pathlib
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "python" / "src"))

from fpgascore.v1 import predict_pb2, tensor_pb2  # noqa: E402

MODEL_NAME = "resnet50"
SIGNATURE = "serving_default"
IMAGES = [b"\xff\xd8\xff\xe0fake-jpeg-0\x00\x01", b"\x89PNG\r\n\x1a\nfake-png-1"]
FLOATS = [0.0, 1.5, -2.25, 3.0e-3, 1.0e6, -0.0]
FLOAT_SHAPE = [2, 3]
SCORES = [0.125, 0.5, 0.375, 1.0e-7, 0.25, 0.75]


def shape(dims):
    return tensor_pb2.TensorShapeProto(dim=[tensor_pb2.TensorShapeProto.Dim(size=d) for d in dims])


def request(tensor):
    req = predict_pb2.PredictRequest()
    req.model_spec.name = MODEL_NAME
    req.model_spec.signature_name = SIGNATURE
    req.inputs["images"].CopyFrom(tensor)
    return req


def main():
    images = tensor_pb2.TensorProto(dtype=tensor_pb2.DT_STRING, tensor_shape=shape([len(IMAGES)]),
                                    string_val=IMAGES)
    floats = tensor_pb2.TensorProto(dtype=tensor_pb2.DT_FLOAT, tensor_shape=shape(FLOAT_SHAPE),
                                    tensor_content=struct.pack("<6f", *FLOATS))
    resp_content = predict_pb2.PredictResponse()
    resp_content.outputs["output_alias"].CopyFrom(tensor_pb2.TensorProto(
        dtype=tensor_pb2.DT_FLOAT, tensor_shape=shape([2, 3]), tensor_content=struct.pack("<6f", *SCORES)))
    resp_content.model_spec.name = MODEL_NAME
    resp_float_val = predict_pb2.PredictResponse()
    resp_float_val.outputs["output_alias"].CopyFrom(tensor_pb2.TensorProto(
        dtype=tensor_pb2.DT_FLOAT, tensor_shape=shape([2, 3]), float_val=SCORES))
    resp_float_val.model_spec.name = MODEL_NAME
    files = {
        "predict_request_images.bin": request(images),
        "predict_request_float_tensor.bin": request(floats),
        "predict_response_tensor_content.bin": resp_content,
        "predict_response_float_val.bin": resp_float_val,
    }
    for name, message in files.items():
        (HERE / name).write_bytes(message.SerializeToString(deterministic=True))
    description = {
        "model_name": MODEL_NAME,
        "signature_name": SIGNATURE,
        "input_name": "images",
        "output_name": "output_alias",
        "images_hex": [image.hex() for image in IMAGES],
        "float_tensor": {"shape": FLOAT_SHAPE, "values": FLOATS},
        "response_scores": {"shape": [2, 3], "values": [struct.unpack("<f", struct.pack("<f", v))[0] for v in SCORES]},
        "files": sorted(files),
    }
    (HERE / "vectors.json").write_text(json.dumps(description, indent=2) + "\n")


if __name__ == "__main__":
    main()
