"""Decode budgets: what a request may declare, and how many pixels the whole server decodes
at once — so that memory and CPU are bounded by what a request can cost."""
import concurrent.futures
import io
import threading
import time

import grpc
import pytest
from PIL import Image

from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig
from fpgascore_emulator.budget import Abandoned, BudgetBusy, DecodeBudget, DecodeLanes

from . import rpc

PEAK_RSS_BOUND_BYTES = 1.5 * 2**30


def worst_case_png() -> bytes:
    """40 megapixels (the most a single image may declare) in about 120 KB."""
    out = io.BytesIO()
    Image.new("RGB", (8000, 5000), (10, 200, 30)).save(out, "PNG")
    return out.getvalue()


def header_only_jpeg() -> bytes:
    """The first 632 bytes of an 8000x5000 JPEG: a header that claims 40 megapixels."""
    out = io.BytesIO()
    Image.new("RGB", (8000, 5000), (90, 90, 90)).save(out, "JPEG")
    return out.getvalue()[:632]


def status_bytes(pid: int, field: str) -> int:
    """VmHWM (peak RSS) or VmRSS of a process, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/PID/status")


def test_a_request_declaring_more_pixels_than_its_budget_is_refused_before_decoding():
    with EmulatorProcess(ServerConfig(extra_env={"FPGASCORE_MAX_REQUEST_MEGAPIXELS": "100"})) as server:
        caller = rpc.plaintext(server.target)
        error = caller.error(rpc.image_request([header_only_jpeg()] * 32))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.details() == ("the request's 32 images declare 1280.0 megapixels; a request may declare "
                                   "at most 100: send fewer or smaller images")
        assert "grpc-retry-pushback-ms" not in rpc.trailing(error)
        # Within the budget, the same images are decoded (and found truncated).
        error = caller.error(rpc.image_request([header_only_jpeg()] * 2))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "image 0: image could not be decoded" in error.details()


def test_sixteen_concurrent_worst_case_images_keep_peak_memory_bounded():
    image = worst_case_png()
    with EmulatorProcess(ServerConfig(extra_env={"FPGASCORE_DECODE_WAIT_SECONDS": "3"})) as server:
        caller = rpc.plaintext(server.target)
        caller.predict(rpc.image_request([rpc.image("tiny-noise.png")]))
        before = status_bytes(server.pid, "VmRSS")
        start = threading.Barrier(16)

        def one_call():
            start.wait()
            try:
                caller.predict(rpc.image_request([image]), timeout=60)
                return "OK", None
            except grpc.RpcError as error:
                return error.code().name, rpc.trailing(error).get("grpc-retry-pushback-ms")

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            outcomes = list(pool.map(lambda _: one_call(), range(16)))
        peak = status_bytes(server.pid, "VmHWM")
        after = status_bytes(server.pid, "VmRSS")
    assert {code for code, _ in outcomes} <= {"OK", "RESOURCE_EXHAUSTED"}, outcomes
    assert any(code == "OK" for code, _ in outcomes)
    assert all(int(hint) > 0 for code, hint in outcomes if code == "RESOURCE_EXHAUSTED"), outcomes
    print(f"RSS before {before / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB, after {after / 2**20:.0f} MiB")
    assert peak <= PEAK_RSS_BOUND_BYTES, f"peak RSS {peak / 2**20:.0f} MiB"
    # Freed decode buffers go back to the system (memory.py), not kept at the peak.
    assert after - before <= (peak - before) / 2, f"RSS {after / 2**20:.0f} MiB after a peak of {peak / 2**20:.0f}"


def test_the_budget_serves_callers_in_order_and_lets_an_oversized_image_decode_alone():
    budget = DecodeBudget(100)
    never = threading.Event()
    order = []
    with budget.hold(60, None, never):
        def later(name, pixels):
            with budget.hold(pixels, 5, never):
                order.append(name)
        first = threading.Thread(target=later, args=("big", 1000))  # clamped to the whole budget
        first.start()
        time.sleep(0.1)
        second = threading.Thread(target=later, args=("small", 10))  # fits now, but waits its turn
        second.start()
        time.sleep(0.1)
        assert order == [] and budget.held() == 60
    first.join(5)
    second.join(5)
    assert order == ["big", "small"] and budget.held() == 0


def test_a_caller_that_waits_too_long_is_refused_with_a_hint_and_an_abandoned_one_stops():
    budget = DecodeBudget(100)
    abandoned = threading.Event()
    with budget.hold(100, None, threading.Event()):
        with pytest.raises(BudgetBusy) as busy:
            with budget.hold(50, 0.2, threading.Event()):
                pass
        assert busy.value.retry_after_ms > 0 and "0 other calls waiting" in str(busy.value)
        threading.Timer(0.1, abandoned.set).start()
        with pytest.raises(Abandoned):
            with budget.hold(50, None, abandoned):
                pass
    assert budget.held() == 0


def test_a_small_image_does_not_wait_behind_a_large_one():
    lanes = DecodeLanes(64_000_000)
    never = threading.Event()
    with lanes.hold(40_000_000, None, never):
        waiting = threading.Thread(target=lambda: lanes.hold(40_000_000, 5, never).__enter__())
        waiting.start()  # a second large image waits for the first
        time.sleep(0.1)
        with lanes.hold(150_000, 0.05, never):  # a thumbnail: at once, not after both large ones
            pass
    waiting.join(5)
