"""The asyncio sides of bench/workers/python_worker.py (a plan with "asyncio": true): the client
is fpgascore.aio.AsyncPredictionClient, the stub the raw generated stub on a grpc.aio channel,
and the `concurrency` workers are tasks of one event loop (no threads). Same plan, same report
and same procedure as the threaded run: every task makes `warmup` calls on every side in turn,
then the phases one after the other, each ending when every task has made its calls; the
process CPU time and the clock are read at every phase boundary."""
from __future__ import annotations

import asyncio
import os
import time
from typing import Awaitable, Callable, Dict, List

import grpc.aio

from fpgascore import RetryPolicy
from fpgascore.aio import AsyncPredictionClient
from fpgascore.v1 import prediction_service_pb2_grpc

import python_worker as common

AsyncCall = Callable[[], Awaitable[object]]


async def client_call(plan: dict) -> AsyncCall:
    client = AsyncPredictionClient(
        plan["host"], plan["port"], use_ssl=bool(plan.get("tls")), root_certificates=plan.get("ca"),
        access_token=os.environ[plan["key_env"]] if plan.get("key_env") else None,
        retry_policy=RetryPolicy.disabled())
    if plan["payload"] == "tensor":
        return lambda: client.score_numpy_array(common.TENSOR)
    images = common.images_of(plan)
    return lambda: client.score_images(images)


async def stub_call(plan: dict) -> AsyncCall:
    target = f"{plan['host']}:{plan['port']}"
    channel = grpc.aio.secure_channel(target, common.stub_credentials(plan)) if plan.get("tls") else \
        grpc.aio.insecure_channel(target)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    images = common.images_of(plan) if plan["payload"] != "tensor" else []
    metadata = common.stub_metadata(plan)

    async def call() -> object:
        return common.stub_scores(await stub.Predict(common.stub_request(plan, images), timeout=30,
                                                     metadata=metadata))
    return call


MODES = {"client": client_call, "stub": stub_call}


async def run_plan(plan: dict) -> List[dict]:
    """Sets every side up inside the loop, warms it up, runs the phases: the report's phases.
    The first failed call cancels the other tasks and is raised."""
    calls: Dict[str, AsyncCall] = {side["name"]: await MODES[side["mode"]](plan) for side in plan["sides"]}
    workers = plan["concurrency"]

    async def warm_up() -> None:
        for side in plan["sides"]:
            for _ in range(plan["warmup"]):
                await calls[side["name"]]()

    await gather(warm_up() for _ in range(workers))
    report = []
    for phase in plan["phases"]:
        call, latencies = calls[phase["side"]], []

        async def timed() -> None:
            for _ in range(phase["calls_per_worker"]):
                started = time.perf_counter()
                await call()
                latencies.append((time.perf_counter() - started) * 1000)

        cpu, started = common.process_cpu(), time.perf_counter()
        await gather(timed() for _ in range(workers))
        report.append({"side": phase["side"], "latencies_ms": latencies,
                       "wall_ms": (time.perf_counter() - started) * 1000,
                       "cpu_ms": (common.process_cpu() - cpu) * 1000})
    return report


async def gather(coroutines) -> None:
    """Runs the coroutines as tasks at once; the first failure cancels the rest and is raised."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()


def run(plan: dict) -> List[dict]:
    return asyncio.run(run_plan(plan))
