"""Hostile peers for the server's tests and benchmarks (tests/server/test_hostile.py,
bench/hostile.py): calls that send their headers and never their message, and the images
that cost a decoder the most for their size.
"""
from __future__ import annotations

import functools
import io
import threading
from typing import Any, Iterable, Iterator, List, Optional, Tuple

import grpc

PREDICT = "/tensorflow.serving.PredictionService/Predict"
# The largest image the server's header check lets through (8192 per side, 40 megapixels).
WORST_CASE_SIZE = (8000, 5000)


class HalfOpenStreams:
    """``count`` calls to Predict that send their headers and then never a message, spread
    over a few connections; ``refill()`` replaces the calls that ended with new ones (to keep
    ``count`` open), ``close()`` lets them end."""

    def __init__(self, target: str, count: int, credentials: Any = None, metadata: Iterable[Tuple[str, str]] = (),
                 connections: int = 4,
                 timeout: float = 60.0) -> None:
        self._release = threading.Event()
        self._metadata = list(metadata)
        self._timeout = timeout
        self.channels: List[Any] = []
        self.calls: List[Any] = []
        self.opened = 0
        for index in range(connections):
            options = [("fpgascore.test.connection", index)]  # distinct options: a connection each
            channel = (grpc.secure_channel(target, credentials, options=options) if credentials
                       else grpc.insecure_channel(target, options=options))
            self.channels.append(channel)
        self._methods = [channel.stream_unary(PREDICT, request_serializer=lambda m: m.SerializeToString(),
                                              response_deserializer=lambda b: b) for channel in self.channels]
        for index in range(count):
            self.calls.append(self._open(index))

    def _open(self, index: int) -> Any:
        self.opened += 1
        method = self._methods[index % len(self._methods)]
        return method.future(self._never(), timeout=self._timeout, metadata=self._metadata)

    def _never(self) -> Iterator[bytes]:
        self._release.wait()
        return
        yield  # a generator that sends nothing

    def codes(self) -> List[Optional[grpc.StatusCode]]:
        return [call.code() if call.done() else None for call in self.calls]

    def refill(self) -> List[grpc.StatusCode]:
        """Opens a new call for each one that ended; returns the ended calls' codes."""
        ended = []
        for index, call in enumerate(self.calls):
            if call.done() and not self._release.is_set():
                ended.append(call.code())
                self.calls[index] = self._open(index)
        return ended

    def close(self) -> None:
        self._release.set()
        for call in self.calls:
            call.cancel()
        for channel in self.channels:
            channel.close()


@functools.lru_cache(maxsize=None)
def worst_case_png(size: Tuple[int, int] = WORST_CASE_SIZE) -> bytes:
    """A solid-colour PNG as large as the server lets through: 40 megapixels (120 MB as RGB)
    from about 120 KB of file."""
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(out, "PNG", optimize=False, compress_level=9)
    return out.getvalue()


@functools.lru_cache(maxsize=None)
def truncated_jpeg(size: Tuple[int, int] = WORST_CASE_SIZE, keep_scan_bytes: int = 64) -> bytes:
    """A JPEG whose header claims ``size`` and whose entropy-coded data stops after a few bytes:
    the decoder has to allocate the whole image before it finds the data missing."""
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", size, (40, 160, 220)).save(out, "JPEG", quality=50)
    data = out.getvalue()
    start_of_scan = data.index(b"\xff\xda")
    scan_header = int.from_bytes(data[start_of_scan + 2:start_of_scan + 4], "big")
    return data[:start_of_scan + 2 + scan_header + keep_scan_bytes]
