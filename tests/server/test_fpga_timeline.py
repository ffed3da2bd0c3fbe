"""The service time holds the CPU stages: an image is answered one service time after its
request arrived, not one service time after the FPGA took it (fpga.py's virtual timeline),
checked with a clock the test controls."""
import threading

import numpy as np
import pytest

from fpgascore_emulator.fpga import ANSWER_LEAD_S, LEAD_GAIN, FpgaPool

T, COMPUTE = 0.020, 0.004


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps = []
        self.lock = threading.Lock()

    def clock(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def featurize(self, image):
        with self.lock:
            self.now += COMPUTE
        return np.zeros(4, dtype=np.float32)


@pytest.fixture
def fake():
    fake = FakeTime()
    pool = FpgaPool(fake.featurize, fpgas=1, queue_depth=4, service_time_s=T, clock=fake.clock, sleep=fake.sleep)
    yield fake, pool
    pool.close()


def run(pool, count, arrival):
    reservation = pool.reserve(count)
    futures = reservation.submit([np.zeros(1)] * count, arrival)
    for future in futures:
        future.result(timeout=5)


def test_an_image_is_released_one_service_time_after_its_request_arrived(fake):
    fake, pool = fake
    run(pool, 1, arrival=fake.now - 0.010)  # 10 ms of decoding before the FPGA took it
    # The FPGA's 4 ms of compute and the 10 ms before it are inside the 20 ms.
    assert fake.sleeps == [pytest.approx(T - 0.010 - COMPUTE - ANSWER_LEAD_S)]


def test_images_on_one_fpga_follow_each_other_by_one_service_time(fake):
    fake, pool = fake
    arrival = fake.now
    run(pool, 3, arrival)
    assert fake.now == pytest.approx(arrival + 3 * T - ANSWER_LEAD_S)


def test_a_compute_longer_than_the_service_time_sets_the_pace():
    fake = FakeTime()
    pool = FpgaPool(fake.featurize, fpgas=1, queue_depth=4, service_time_s=0.001, clock=fake.clock, sleep=fake.sleep)
    try:
        run(pool, 2, fake.now)
    finally:
        pool.close()
    assert fake.sleeps == []


def test_the_lead_follows_how_late_answers_are_and_stays_within_the_service_time(fake):
    fake, pool = fake
    reservation = pool.reserve(1)
    future = reservation.submit([np.zeros(1)], fake.now)[0]
    future.result(timeout=5)
    assert future.paced and future.due == pytest.approx(fake.now + ANSWER_LEAD_S)
    start = pool.answer_lead_s
    pool.record_answer([future], future.due + 0.001)  # ready 1 ms late: release earlier next time
    assert pool.answer_lead_s == pytest.approx(start + LEAD_GAIN * 0.001)
    for _ in range(500):  # always very late: bounded by the service time
        pool.record_answer([future], future.due + 1.0)
    assert pool.answer_lead_s == pytest.approx(T)
    for _ in range(500):  # always early: never negative
        pool.record_answer([future], future.due - 1.0)
    assert pool.answer_lead_s == 0.0


def test_an_answer_the_compute_paced_does_not_move_the_lead():
    fake = FakeTime()
    pool = FpgaPool(fake.featurize, fpgas=1, queue_depth=4, service_time_s=0.001, clock=fake.clock, sleep=fake.sleep)
    try:
        future = pool.reserve(1).submit([np.zeros(1)], fake.now)[0]
        future.result(timeout=5)
        assert not future.paced
        pool.record_answer([future], future.due + 0.01)
        assert pool.answer_lead_s == ANSWER_LEAD_S
    finally:
        pool.close()
