"""The server's CPU stages compute at most ``--cpu-slots`` at a time (cpu_slots.py): the FPGAs'
featurizer on a real FpgaPool, a call that ends while it waits for a slot, and a real server
with one slot answering concurrent calls with the golden scores."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig
from fpgascore_emulator.budget import Abandoned
from fpgascore_emulator.config import parse
from fpgascore_emulator.cpu_slots import CpuSlots, default_slots
from fpgascore_emulator.fpga import FpgaPool

from . import rpc
from .test_predict import GOLDEN, digest, scores_of


class Overlap:
    """A featurizer that records how many of its calls run at the same moment."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def __call__(self, image):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)  # long enough for the other FPGAs' threads to enter, were they let in
        with self.lock:
            self.running -= 1
        return np.zeros(4, dtype=np.float32)


def _featurize_eight(slots):
    overlap = Overlap()
    pool = FpgaPool(overlap, fpgas=4, queue_depth=8, service_time_s=0.0, cpu=slots)
    try:
        futures = pool.reserve(8).submit([np.zeros(1)] * 8)
        for future in futures:
            future.result(timeout=30)
    finally:
        pool.close()
    return overlap.most


def test_four_fpgas_featurize_one_at_a_time_with_one_cpu_slot():
    assert _featurize_eight(CpuSlots(1)) == 1
    # The same pool lets its FPGAs overlap when the slots allow it: the featurizer can see it.
    assert _featurize_eight(CpuSlots(4)) > 1


def test_a_call_that_ends_while_it_waits_for_a_slot_gives_up():
    slots = CpuSlots(1)
    ended = threading.Event()
    with slots.held():
        waiting = ThreadPoolExecutor(1).submit(lambda: slots.held(ended).__enter__())
        time.sleep(0.1)
        assert not waiting.done()  # the only slot is held
        ended.set()
        with pytest.raises(Abandoned):
            waiting.result(timeout=10)
    with slots.held(threading.Event()):  # the slot was not lost by the one that gave up
        pass


def test_slots_default_to_the_cpus_and_bad_values_are_refused():
    assert parse([], environ={}).cpu_slots == 0 and default_slots() >= 1
    assert parse([], environ={"FPGASCORE_CPU_SLOTS": "3"}).cpu_slots == 3
    with pytest.raises(SystemExit, match="--cpu-slots must be 0"):
        parse(["--cpu-slots", "-1"], environ={})
    with pytest.raises(ValueError):
        CpuSlots(0)


def test_a_server_with_one_cpu_slot_answers_concurrent_calls_with_the_golden_scores():
    config = ServerConfig(conformance=False, fpgas=4, extra_env={"FPGASCORE_CPU_SLOTS": "1",
                                                                 "FPGASCORE_SCORE_CACHE_ENTRIES": "0"})
    names = sorted(GOLDEN)[:4]
    with EmulatorProcess(config) as server:
        caller = rpc.plaintext(server.target)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda name: (name, caller.predict(rpc.image_request([rpc.image(name)]))[0]),
                                    names * 2))
        assert '"cpu_slots":1' in server.logs()
    for name, response in answers:
        assert digest(scores_of(response)[0]) == GOLDEN[name]["sha256"], name
