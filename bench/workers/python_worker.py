#!/usr/bin/env python3
"""bench/clients.py's Python worker: it reads one plan, a JSON line on stdin (clients.make_plan),
runs it, and prints one JSON line on stdout, the raw timings:

    {"language": "python", "phases": [{"side": "a", "latencies_ms": [...], "wall_ms": W, "cpu_ms": C}, ...]}

With "asyncio": true in the plan, bench/workers/python_asyncio.py runs it instead: the asyncio
client and a grpc.aio stub, the workers tasks of one event loop. Otherwise it sets up each side
of the plan as its mode says (client: fpgascore.PredictionClient, retries
off; stub: the raw generated stub on its own channel, building its request on every call, as
the client does), then starts `concurrency` threads: each makes `warmup` calls on every side in
turn, then the calls of each phase on that phase's side, every thread waiting for the others
between phases. The process CPU time (user + system) and the clock are read at every phase
boundary. A batch8 call sends eight distinct copies of the image. The planning and all the
statistics are bench/clients.py's.

Exit 2: the plan is bad (why, on stderr); exit 1: a call failed; nothing on stdout either way.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python" / "src"))

import grpc  # noqa: E402
import numpy as np  # noqa: E402

import fpgascore  # noqa: E402
from fpgascore.v1 import predict_pb2, prediction_service_pb2_grpc, tensor_pb2  # noqa: E402

TENSOR = np.full((1, 224, 224, 3), 0.5, dtype=np.float32)
PAYLOADS = ("jpeg", "batch8", "tensor")


class PlanError(ValueError):
    """The plan cannot be run."""


def read_plan(line: str) -> dict:
    """The plan of one JSON line, checked: every field the run needs, of the right kind."""
    try:
        plan = json.loads(line)
    except ValueError as exc:
        raise PlanError(f"the plan is not one JSON line: {exc}") from None
    if not isinstance(plan, dict):
        raise PlanError("the plan is not a JSON object")

    def need(key, kind, check=lambda v: True, what="") -> object:
        value = plan.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is int or not check(value):
            raise PlanError(f"plan field {key!r} must be {what or kind.__name__}, not {value!r}")
        return value

    need("host", str, bool, "a host name")
    need("port", int, lambda v: 0 < v < 65536, "a port (1-65535)")
    need("payload", str, lambda v: v in PAYLOADS, "one of " + ", ".join(PAYLOADS))
    need("concurrency", int, lambda v: v >= 1, "an integer >= 1")
    need("warmup", int, lambda v: v >= 0, "an integer >= 0")
    if plan["payload"] != "tensor":
        need("image", str, lambda v: Path(v).is_file(), "an image file")
    if plan.get("asyncio") not in (True, False, None):
        raise PlanError(f"plan field 'asyncio' must be true or false, not {plan['asyncio']!r}")
    if plan.get("tls") not in (True, False, None) or not plan.get("tls") and (plan.get("ca") or plan.get("key_env")):
        raise PlanError("plan fields 'ca' and 'key_env' need 'tls': true")
    if plan.get("key_env") and not os.environ.get(plan["key_env"]):
        raise PlanError(f"the variable {plan['key_env']} named by 'key_env' is empty")
    sides = need("sides", list, bool, "a list of sides")
    if any(not isinstance(s, dict) or not isinstance(s.get("name"), str) or s.get("mode") not in MODES
           for s in sides) or len({s["name"] for s in sides}) != len(sides):
        raise PlanError(f"plan sides must have distinct names and a mode client or stub, not {sides!r}")
    names = {s["name"] for s in sides}
    for phase in need("phases", list, bool, "a list of phases"):
        if not isinstance(phase, dict) or phase.get("side") not in names or \
                not isinstance(phase.get("calls_per_worker"), int) or phase["calls_per_worker"] < 1:
            raise PlanError(f"a phase must name a side of the plan and calls_per_worker >= 1, not {phase!r}")
    return plan


def images_of(plan: dict) -> List[bytes]:
    """The images one call sends: batch8 is eight distinct copies (a real batch is eight images
    in memory; the same object eight times would stay in the CPU cache), built once."""
    image = Path(plan["image"]).read_bytes()
    return [bytes(bytearray(image)) for _ in range(8 if plan["payload"] == "batch8" else 1)]


def client_call(plan: dict) -> Callable[[], object]:
    client = fpgascore.PredictionClient(
        plan["host"], plan["port"], use_ssl=bool(plan.get("tls")), root_certificates=plan.get("ca"),
        access_token=os.environ[plan["key_env"]] if plan.get("key_env") else None,
        retry_policy=fpgascore.RetryPolicy.disabled())
    if plan["payload"] == "tensor":
        return lambda: client.score_numpy_array(TENSOR)
    images = images_of(plan)
    return lambda: client.score_images(images)


def stub_request(plan: dict, images: List[bytes]) -> predict_pb2.PredictRequest:
    """The request a user of the raw stub builds for each call, as the client does."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "resnet50"
    request.model_spec.signature_name = "serving_default"
    tensor = request.inputs["images"]
    if plan["payload"] == "tensor":
        tensor.dtype = tensor_pb2.DT_FLOAT
        for size in TENSOR.shape:
            tensor.tensor_shape.dim.add(size=size)
        tensor.tensor_content = TENSOR.astype("<f4", copy=False).tobytes()
    else:
        tensor.dtype = tensor_pb2.DT_STRING
        tensor.tensor_shape.dim.add(size=len(images))
        tensor.string_val.extend(images)
    return request


def stub_scores(response: predict_pb2.PredictResponse) -> np.ndarray:
    """The scores of a stub call's response, decoded by hand: tensor_content or float_val."""
    output = response.outputs["output_alias"]
    return np.frombuffer(output.tensor_content, dtype="<f4") if output.tensor_content else \
        np.asarray(output.float_val, dtype=np.float32)


def stub_metadata(plan: dict) -> Optional[List[Tuple[str, str]]]:
    return [("authorization", os.environ[plan["key_env"]])] if plan.get("key_env") else None


def stub_credentials(plan: dict) -> grpc.ChannelCredentials:
    roots = Path(plan["ca"]).read_bytes() if plan.get("ca") else None
    return grpc.ssl_channel_credentials(roots)


def stub_call(plan: dict) -> Callable[[], object]:
    target = f"{plan['host']}:{plan['port']}"
    channel = grpc.secure_channel(target, stub_credentials(plan)) if plan.get("tls") else grpc.insecure_channel(target)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    images = images_of(plan) if plan["payload"] != "tensor" else []
    metadata = stub_metadata(plan)
    return lambda: stub_scores(stub.Predict(stub_request(plan, images), timeout=30, metadata=metadata))


MODES = {"client": client_call, "stub": stub_call}


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(plan: dict, calls: Dict[str, Callable[[], object]]) -> List[dict]:
    """Warms every side up, then runs the phases with a barrier between them: the report's phases."""
    workers = plan["concurrency"]
    report = [{"side": phase["side"], "latencies_ms": [], "wall_ms": 0.0, "cpu_ms": 0.0} for phase in plan["phases"]]
    lock = threading.Lock()
    barrier = threading.Barrier(workers + 1)
    errors: List[BaseException] = []

    def worker() -> None:
        try:
            for side in plan["sides"]:
                for _ in range(plan["warmup"]):
                    calls[side["name"]]()
            for phase, out in zip(plan["phases"], report):
                barrier.wait()
                call, mine = calls[phase["side"]], []
                for _ in range(phase["calls_per_worker"]):
                    started = time.perf_counter()
                    call()
                    mine.append((time.perf_counter() - started) * 1000)
                with lock:
                    out["latencies_ms"].extend(mine)
                barrier.wait()
        except threading.BrokenBarrierError:
            pass
        except BaseException as exc:  # noqa: B902 - any failed call ends the run
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    try:
        for out in report:
            barrier.wait()  # every worker is ready: warmed up, or done with the phase before
            cpu, started = process_cpu(), time.perf_counter()
            barrier.wait()  # every call of the phase ended
            out["wall_ms"] = (time.perf_counter() - started) * 1000
            out["cpu_ms"] = (process_cpu() - cpu) * 1000
    except threading.BrokenBarrierError:
        pass
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return report


def main() -> int:
    try:
        plan = read_plan(sys.stdin.readline())
    except PlanError as exc:
        print(f"python_worker: bad plan: {exc}", file=sys.stderr)
        return 2
    try:
        if plan.get("asyncio"):
            import python_asyncio  # the asyncio sides: one event loop, `concurrency` tasks
            phases = python_asyncio.run(plan)
        else:
            phases = run(plan, {side["name"]: MODES[side["mode"]](plan) for side in plan["sides"]})
    except Exception as exc:  # noqa: BLE001 - a failed call is the run's failure
        print(f"python_worker: a call failed: {exc!r}", file=sys.stderr)
        return 1
    print(json.dumps({"language": "python", "phases": phases}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
