"""The files a run's cases send: images, pre-processed float tensors, raw requests."""
from __future__ import annotations

import io
import pathlib
import shutil
import struct
from typing import Dict, List, Sequence

import numpy as np
from PIL import Image

from fpgascore.v1 import predict_pb2, tensor_pb2

from .cases import CONFORMANCE_DIR

TESTDATA = CONFORMANCE_DIR / "testdata"
SMALL_LIMIT_BYTES = 2 * 1024 * 1024


def _noise_png(side: int, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _shape(dims: Sequence[int]) -> tensor_pb2.TensorShapeProto:
    return tensor_pb2.TensorShapeProto(dim=[tensor_pb2.TensorShapeProto.Dim(size=d) for d in dims])


def _requests() -> Dict[str, predict_pb2.PredictRequest]:
    gradient = (TESTDATA / "images" / "gradient.jpg").read_bytes()
    wrong_dtype = predict_pb2.PredictRequest()
    wrong_dtype.model_spec.name = "resnet50"
    wrong_dtype.inputs["images"].CopyFrom(tensor_pb2.TensorProto(
        dtype=tensor_pb2.DT_INT32, tensor_shape=_shape([1, 3]), int_val=[1, 2, 3]))
    unknown = predict_pb2.PredictRequest()
    unknown.model_spec.name = "resnet50"
    unknown.inputs["pixels"].CopyFrom(tensor_pb2.TensorProto(
        dtype=tensor_pb2.DT_STRING, tensor_shape=_shape([1]), string_val=[gradient]))
    short = predict_pb2.PredictRequest()
    short.model_spec.name = "resnet50"
    short.inputs["images"].CopyFrom(tensor_pb2.TensorProto(
        dtype=tensor_pb2.DT_FLOAT, tensor_shape=_shape([1, 224, 224, 3]),
        tensor_content=struct.pack("<4f", 1, 2, 3, 4)))
    return {"wrong-dtype": wrong_dtype, "unknown-input": unknown, "short-tensor-content": short}


class RunInputs:
    """Writes every input file once per run under ``directory``."""

    def __init__(self, directory: pathlib.Path) -> None:
        from fpgascore_emulator.preprocess import image_to_input  # the server's own pre-processing

        self._image_to_input = image_to_input
        self.images = directory / "images"
        self.tensors = directory / "tensors"
        self.requests = directory / "requests"
        for folder in (self.images, self.tensors, self.requests):
            folder.mkdir(parents=True, exist_ok=True)
        for source in (TESTDATA / "images").iterdir():
            shutil.copyfile(source, self.images / source.name)
        (self.images / "not-an-image.txt").write_bytes(b"this is plain text, not a picture\n")
        (self.images / "empty.jpg").write_bytes(b"")
        near, over = _noise_png(800, 1), _noise_png(900, 2)
        assert len(near) < SMALL_LIMIT_BYTES - 4096 < SMALL_LIMIT_BYTES < len(over), (len(near), len(over))
        (self.images / "near-limit.png").write_bytes(near)
        (self.images / "over-limit.png").write_bytes(over)
        for name, request in _requests().items():
            (self.requests / f"{name}.bin").write_bytes(request.SerializeToString())

    def image(self, name: str) -> str:
        path = self.images / name
        if not path.exists():
            raise ValueError(f"unknown test image {name!r}")
        return str(path)

    def tensor_from_images(self, names: Sequence[str]) -> tuple[str, List[int]]:
        """The server's pre-processing of the images, as raw little-endian float32."""
        path = self.tensors / ("+".join(names) + ".f32")
        batch = np.stack([self._image_to_input((self.images / n).read_bytes()) for n in names])
        if not path.exists():
            path.write_bytes(batch.astype("<f4").tobytes())
        return str(path), list(batch.shape)

    def zeros(self, shape: Sequence[int]) -> tuple[str, List[int]]:
        path = self.tensors / ("zeros-" + "x".join(map(str, shape)) + ".f32")
        if not path.exists():
            path.write_bytes(np.zeros(shape, dtype="<f4").tobytes())
        return str(path), list(shape)

    def request(self, name: str) -> str:
        path = self.requests / f"{name}.bin"
        if not path.exists():
            raise ValueError(f"unknown raw request {name!r}")
        return str(path)
