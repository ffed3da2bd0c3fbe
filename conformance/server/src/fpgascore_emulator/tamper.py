"""What the conformance controls ``x-conformance-scores`` and
``x-conformance-pad-response-bytes`` do to an answer (see ``controls``): the scores replaced
by non-finite or negative values, and an output of padding added, so conformance cases can
test what a client does with a bad or an oversized answer."""
from __future__ import annotations

from typing import Any

import numpy as np

from fpgascore.v1 import predict_pb2, tensor_pb2

from .controls import PAD, SCORES, ControlError, Controls

PADDING_OUTPUT = "conformance_padding"
NEGATIVE_OFFSET = np.float32(2.0)
_VALUES = {"nan": np.float32("nan"), "inf": np.float32("inf"), "-inf": np.float32("-inf")}


def scores(values: np.ndarray[Any, Any], control: Controls) -> np.ndarray[Any, Any]:
    """``values`` ([N, classes] float32) as ``x-conformance-scores`` asks (a new array when
    changed); ControlError for a position outside the answer."""
    if control.scores is None:
        return values
    if control.scores == "negative":
        # Finite, every one negative, no longer summing to 1; the order of the classes stays.
        return (values.astype(np.float32) - NEGATIVE_OFFSET).astype(np.float32)
    changed = np.array(values, dtype=np.float32)
    if control.scores_at is None:
        changed[...] = _VALUES[control.scores]
        return changed
    image, class_id = control.scores_at
    rows, columns = changed.shape
    if image >= rows or class_id >= columns:
        raise ControlError(f"{SCORES}: image {image}, class {class_id} is outside an answer of shape "
                           f"[{rows}, {columns}]")
    changed[image, class_id] = _VALUES[control.scores]
    return changed


def pad(response: predict_pb2.PredictResponse, control: Controls, max_message_bytes: int) -> None:
    """Adds the output ``conformance_padding`` (DT_UINT8, ``pad_bytes`` zero bytes) when
    ``x-conformance-pad-response-bytes`` asks for it. An answer the server could not send
    (over its --max-message-bytes) is refused with ControlError instead: grpcio would fail
    the send with RESOURCE_EXHAUSTED, which a client cannot tell from its own limit."""
    if not control.pad_bytes:
        return
    padding = response.outputs[PADDING_OUTPUT]
    padding.dtype = tensor_pb2.DT_UINT8
    padding.tensor_shape.dim.add(size=control.pad_bytes)
    padding.tensor_content = bytes(control.pad_bytes)
    size = response.ByteSize()
    if size > max_message_bytes:
        del response.outputs[PADDING_OUTPUT]
        raise ControlError(f"{PAD}: an answer of {size} bytes is more than this server sends "
                           f"(--max-message-bytes {max_message_bytes})")
