"""Conformance controls: request metadata that makes the server misbehave on purpose, so a
conformance case can test a client's retries, deadlines and decoding. Obeyed only when the
server runs with --conformance; otherwise the headers are ignored.

    x-conformance-case: <id>            names the logical call; attempts are counted per id
    x-conformance-delay-ms: <n>         sleep n ms before answering
    x-conformance-fail: <n>:<CODE>      fail the first n attempts of the id with CODE
    x-conformance-encoding: float_val | tensor_content   (default: the server's --response-encoding)
    x-conformance-scores: nan | inf | -inf | negative    change the scores of the answer:
                                        every score NaN / +Inf / -Inf, or every score minus 2
                                        (finite, all negative); "nan@I,C" (also inf, -inf)
                                        changes only the score of image I, class C
    x-conformance-pad-response-bytes: <n>   add an output of n bytes to the answer (n <= 64 MiB)
    x-conformance-echo-metadata: <k1>,<k2>  send these request headers back in the trailers, as
                                        x-conformance-metadata-<k>: <value> (at most 8 keys; not
                                        authorization; values cut at 256 characters)

What the last two do to an answer is in ``tamper``.
"""
from __future__ import annotations

import collections
import dataclasses
import threading
from typing import Mapping, Optional, Tuple

import grpc

CASE = "x-conformance-case"
DELAY = "x-conformance-delay-ms"
FAIL = "x-conformance-fail"
ENCODING = "x-conformance-encoding"
SCORES = "x-conformance-scores"
PAD = "x-conformance-pad-response-bytes"
ECHO = "x-conformance-echo-metadata"
ECHOED = "x-conformance-metadata-"
MAX_ECHO_KEYS = 8
MAX_ECHO_VALUE_CHARS = 256
SCORE_KINDS = ("nan", "inf", "-inf", "negative")
MAX_PAD_BYTES = 64 * 1024 * 1024
_MAX_TRACKED_CASES = 10_000
MAX_CASE_CHARS = 256
MAX_SEEN = 32  # attempts per case id whose authorization fingerprint is kept
_MAX_DELAY_MS = 60_000
_MAX_CONTROL_CHARS = 40  # longer values are malformed, and never echoed


class ControlError(ValueError):
    """A conformance header is malformed."""


@dataclasses.dataclass(frozen=True)
class Controls:
    case: Optional[str] = None
    attempt: int = 0
    delay_s: float = 0.0
    fail_code: Optional[grpc.StatusCode] = None
    # None: the server's --response-encoding.
    float_val: Optional[bool] = None
    # x-conformance-scores: one of SCORE_KINDS, and the (image, class) it is limited to.
    scores: Optional[str] = None
    scores_at: Optional[Tuple[int, int]] = None
    pad_bytes: int = 0
    # x-conformance-echo-metadata: the request headers to send back in the trailers.
    echo_keys: Tuple[str, ...] = ()


class AttemptCounter:
    """Counts attempts per case id, and keeps what each attempt presented (a fingerprint of its
    ``authorization``, up to ``MAX_SEEN`` per id), remembering a bounded number of ids."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cases: "collections.OrderedDict[str, Tuple[int, Tuple[str, ...]]]" = collections.OrderedDict()

    def next(self, case: str, presented: str = "-") -> int:
        with self._lock:
            count, seen = self._cases.pop(case, (0, ()))
            self._cases[case] = (count + 1, seen + (presented,) if len(seen) < MAX_SEEN else seen)
            while len(self._cases) > _MAX_TRACKED_CASES:
                self._cases.popitem(last=False)
            return count + 1

    def seen(self, case: str) -> Tuple[str, ...]:
        """What the case's attempts presented, in order (the first ``MAX_SEEN``)."""
        with self._lock:
            return self._cases.get(case, (0, ()))[1]


def read(metadata: Mapping[str, str], counter: AttemptCounter, presented: str = "-") -> Controls:
    """The call's controls; counts it as the next attempt of its case id, which presented
    ``presented`` (an authorization fingerprint, "-" for none)."""
    case = metadata.get(CASE)
    if case is not None and len(case) > MAX_CASE_CHARS:  # it is kept, logged and echoed: bounded
        raise ControlError(f"{CASE} is at most {MAX_CASE_CHARS} characters")
    attempt = counter.next(case, presented) if case else 0
    delay_s = 0.0
    if DELAY in metadata:
        try:
            delay_ms = int(metadata[DELAY])
        except ValueError:
            raise ControlError(f"{DELAY} must be an integer number of milliseconds") from None
        delay_s = min(max(delay_ms, 0), _MAX_DELAY_MS) / 1000.0
    fail_code = None
    if FAIL in metadata:
        count_text, _, code_text = metadata[FAIL].partition(":")
        try:
            fail_count = int(count_text)
            code = grpc.StatusCode[code_text.strip().upper()]
        except (ValueError, KeyError):
            raise ControlError(f"{FAIL} must look like '2:UNAVAILABLE'") from None
        if code is grpc.StatusCode.OK:
            raise ControlError(f"{FAIL} cannot fail with OK")
        if not case:
            raise ControlError(f"{FAIL} needs {CASE} to count attempts")
        if attempt <= fail_count:
            fail_code = code
    encoding = metadata.get(ENCODING)
    if encoding not in (None, "float_val", "tensor_content"):
        raise ControlError(f"{ENCODING} must be float_val or tensor_content")
    scores, scores_at = _scores(metadata.get(SCORES))
    return Controls(case=case, attempt=attempt, delay_s=delay_s, fail_code=fail_code,
                    float_val=None if encoding is None else encoding == "float_val",
                    scores=scores, scores_at=scores_at, pad_bytes=_pad_bytes(metadata.get(PAD)),
                    echo_keys=_echo_keys(metadata.get(ECHO)))


def _echo_keys(text: Optional[str]) -> Tuple[str, ...]:
    if text is None:
        return ()
    keys = tuple(key.strip() for key in text.split(",") if key.strip())
    if len(keys) > MAX_ECHO_KEYS or any(len(key) > _MAX_CONTROL_CHARS for key in keys):
        raise ControlError(f"{ECHO} names at most {MAX_ECHO_KEYS} keys of at most {_MAX_CONTROL_CHARS} characters")
    if "authorization" in keys or any(key.endswith("-bin") for key in keys):
        raise ControlError(f"{ECHO} cannot echo authorization or binary (-bin) headers")
    return keys


def echoed(metadata: Mapping[str, str], keys: Tuple[str, ...]) -> Tuple[Tuple[str, str], ...]:
    """The trailers that send ``keys`` of the request's metadata back (absent keys: not sent)."""
    return tuple((ECHOED + key, metadata[key][:MAX_ECHO_VALUE_CHARS]) for key in keys if key in metadata)


def _scores(text: Optional[str]) -> Tuple[Optional[str], Optional[Tuple[int, int]]]:
    """``nan`` -> ("nan", None); ``inf@1,999`` -> ("inf", (1, 999))."""
    if text is None:
        return None, None
    kind, at, position = text.strip().lower().partition("@")
    if len(text) > _MAX_CONTROL_CHARS or kind not in SCORE_KINDS or (at and kind == "negative"):
        raise ControlError(f"{SCORES} must be one of {', '.join(SCORE_KINDS)}, "
                           "or nan, inf or -inf followed by @IMAGE,CLASS")
    if not at:
        return kind, None
    image_text, _, class_text = position.partition(",")
    try:
        image, class_id = int(image_text), int(class_text)
    except ValueError:
        raise ControlError(f"{SCORES}: the position after @ must be IMAGE,CLASS (two integers)") from None
    if image < 0 or class_id < 0:
        raise ControlError(f"{SCORES}: image and class are not negative")
    return kind, (image, class_id)


def _pad_bytes(text: Optional[str]) -> int:
    if text is None:
        return 0
    try:
        count = int(text) if len(text) <= _MAX_CONTROL_CHARS else -1
    except ValueError:
        count = -1
    if not 0 <= count <= MAX_PAD_BYTES:
        raise ControlError(f"{PAD} must be an integer number of bytes from 0 to {MAX_PAD_BYTES}")
    return count
