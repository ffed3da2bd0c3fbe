"""The service time holds the CPU stages: an image is answered one service time after its
request arrived, not one service time after the FPGA took it (fpga.py's virtual timeline),
checked with a clock the test controls."""
import threading

import numpy as np
import pytest

from fpgascore_emulator.fpga import ANSWER_LEAD_S, FpgaPool

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
