"""The emulated accelerators: a pool of FPGAs, each scoring one image at a time with a fixed
service time, fed by one bounded queue.

The service time is what a user reading ``--service-time-ms`` expects: the time from a
request's arrival to its answer, the CPU stages (decode, pre-process, classify, encode)
inside it rather than added to it. Each FPGA keeps a virtual timeline: an image occupies it
from ``max(the request's arrival, the end of the FPGA's previous image)`` for one service
time, and its features are released an answer lead before that end. So a lone image is
answered one service time after it arrived, N images on one FPGA after N service times, and
saturation stays at FPGAs / service time. The lead is learnt from each answer's lateness
(``record_answer``): how long after its due time grpcio had sent the answer, which holds
classify, encode and the send, and also the time a thread waits to run again after its sleep
on a busy host (several ms at a load of 10 on 2 cores). Where the compute takes longer than
the service time, the compute sets the pace. A request first reserves a queue place per
image; when they do not all fit, it is refused at once (backpressure) instead of waiting or
growing memory. A place is freed when an FPGA takes the image, or when the call that queued
it ends (``withdraw``): nothing is computed for a caller who has left.
"""
from __future__ import annotations

import collections
import concurrent.futures
import threading
import time
from typing import Any, Callable, Deque, List, Optional

import numpy as np

from .cpu_slots import CpuSlots


# The first guess of how long answering takes after the FPGA (learnt from then on).
ANSWER_LEAD_S = 0.0005
# How the lead follows lateness: a step of this share of each answer's lateness, the lateness
# clipped at LATENESS_CLIP_S so that a rare stall moves it little (the lead then settles where
# answers are as often early as late, near the median).
LEAD_GAIN = 0.25
LATENESS_CLIP_S = 0.004
MAX_LEAD_S = 0.05


class QueueFull(Exception):
    """The queue cannot take the request's images now."""

    def __init__(self, waiting: int, capacity: int, retry_after_ms: int) -> None:
        super().__init__(f"FPGA queue is full ({waiting} of {capacity} images waiting); retry later")
        self.retry_after_ms = retry_after_ms


class BatchTooLarge(Exception):
    """The request has more images than the whole queue holds: it can never be admitted."""

    def __init__(self, count: int, capacity: int) -> None:
        super().__init__(f"a batch of {count} images is larger than the FPGA queue ({capacity} places); "
                         f"send at most {capacity} images per request")


class Timed(concurrent.futures.Future):  # type: ignore[type-arg]
    """An image's future, and when its answer is due (``due``, the clock's time) once the FPGA
    is done with it; ``paced``: the FPGA held the image back to that time (its compute was
    shorter than the service time)."""

    def __init__(self) -> None:
        super().__init__()
        self.due = 0.0
        self.paced = False


class _Job:
    __slots__ = ("image", "arrival", "future")

    def __init__(self, image: Optional[np.ndarray[Any, Any]], arrival: float) -> None:
        self.image = image  # None: nothing to compute (its scores are cached), only the FPGA's time
        self.arrival = arrival  # time.perf_counter() when the request arrived
        self.future = Timed()


class Reservation:
    """Queue places held for one request: ``submit`` its images, or ``release`` it."""

    def __init__(self, pool: "FpgaPool", count: int) -> None:
        self._pool = pool
        self.count = count
        self._open = True

    def submit(self, images: List[Optional[np.ndarray[Any, Any]]],
               arrival: Optional[float] = None) -> List[concurrent.futures.Future[Any]]:
        """Queues the images of a request that arrived at ``arrival`` (time.perf_counter(); now
        when not given). An image of None takes its FPGA time and computes nothing (its future
        gives None): the score cache's hits."""
        futures = self._pool._enqueue(self, images, self._pool._clock() if arrival is None else arrival)
        self._open = False  # the places now belong to the queued jobs
        return futures

    def release(self) -> None:
        if self._open:
            self._open = False
            self._pool._release(self.count)


class FpgaPool:
    def __init__(self, featurize: Callable[[np.ndarray[Any, Any]], np.ndarray[Any, Any]], fpgas: int,
                 queue_depth: int, service_time_s: float,
                 clock: Callable[[], float] = time.perf_counter, sleep: Callable[[float], None] = time.sleep,
                 cpu: Optional[CpuSlots] = None) -> None:
        self._featurize = featurize
        self._cpu = cpu
        self._clock = clock
        self._sleep = sleep
        self._capacity = queue_depth
        self._service_time_s = service_time_s
        self._fpgas = fpgas
        self._jobs: Deque[_Job] = collections.deque()
        self._held = 0  # queue places reserved or filled by jobs not yet on an FPGA
        self._ready = threading.Condition()
        self._closed = False
        # How long the server takes after the FPGA to answer (classify, encode, send): an
        # exponential average of what the service reports, the features' release lead.
        self._answer_lead_s = ANSWER_LEAD_S
        self._workers = [threading.Thread(target=self._run, name=f"fpga-{i}", daemon=True)
                         for i in range(fpgas)]
        for worker in self._workers:
            worker.start()

    def reserve(self, count: int) -> "Reservation":
        """Holds ``count`` queue places for one request, or raises QueueFull at once
        (BatchTooLarge when ``count`` exceeds the whole queue: waiting would never help).

        Reserving before the CPU pre-processing keeps refusals cheap under overload."""
        if count > self._capacity:
            raise BatchTooLarge(count, self._capacity)
        with self._ready:
            if self._closed:
                raise RuntimeError("FPGA pool is shut down")
            if self._held + count > self._capacity:
                raise QueueFull(self._held, self._capacity, self._drain_estimate_ms(count))
            self._held += count
        return Reservation(self, count)

    def _enqueue(self, reservation: "Reservation", images: List[Optional[np.ndarray[Any, Any]]],
                 arrival: float) -> List[concurrent.futures.Future[Any]]:
        if len(images) != reservation.count:
            raise ValueError(f"reserved {reservation.count} places, got {len(images)} images")
        jobs = [_Job(image, arrival) for image in images]
        with self._ready:
            self._jobs.extend(jobs)
            self._ready.notify(len(jobs))
        return [job.future for job in jobs]

    def withdraw(self, futures: List[concurrent.futures.Future[Any]]) -> int:
        """Drops the still-queued jobs of ``futures`` (their call has ended): their queue places
        are freed at once and their futures cancelled. Returns how many were dropped."""
        wanted = set(futures)
        with self._ready:
            kept = collections.deque(job for job in self._jobs if job.future not in wanted)
            dropped = [job for job in self._jobs if job.future in wanted]
            self._jobs = kept
            self._held -= len(dropped)
        for job in dropped:
            job.future.cancel()
        return len(dropped)

    def _release(self, count: int) -> None:
        with self._ready:
            self._held -= count

    def drain_estimate_ms(self) -> int:
        """The time the FPGAs need to take every image queued now: a retry hint."""
        with self._ready:
            return self._drain_estimate_ms(1)

    def _drain_estimate_ms(self, wanted: int) -> int:
        """The retry hint for a refused request: the time the FPGAs need to take every image
        queued now (at least the time to free ``wanted`` places). Hinting only the first free
        place sent every refused caller back at once, to be refused again; measured with 60
        callers on 2 FPGAs x 20 ms, the refusals' own cost then cut throughput to 0.63 of theory."""
        per_image = max(self._service_time_s, 0.001)
        return int(1000 * per_image * max(1, wanted, self._held) / self._fpgas)

    def _next(self) -> Optional[_Job]:
        with self._ready:
            while not self._jobs and not self._closed:
                self._ready.wait()
            if not self._jobs:
                return None
            self._held -= 1
            return self._jobs.popleft()

    def record_answer(self, futures: List[concurrent.futures.Future[Any]], ready_at: float) -> None:
        """The service reports when a request's answer was sent (the clock's time); the lead
        moves by its lateness against the last image's due time, when the FPGAs paced that
        image (otherwise the compute, not the lead, set the time). Bounded by the service time
        and MAX_LEAD_S: a stalled answer must not make the FPGAs release early for everyone."""
        timed = [future for future in futures if isinstance(future, Timed) and future.done()]
        if not timed:
            return
        last = max(timed, key=lambda future: future.due)
        if not last.paced:
            return
        late = min(max(ready_at - last.due, -LATENESS_CLIP_S), LATENESS_CLIP_S)
        with self._ready:
            self._answer_lead_s = min(max(self._answer_lead_s + LEAD_GAIN * late, 0.0),
                                      self._service_time_s, MAX_LEAD_S)

    @property
    def answer_lead_s(self) -> float:
        return self._answer_lead_s

    def _run(self) -> None:
        free_at = 0.0  # this FPGA's virtual timeline: when its previous image's time ended
        while True:
            job = self._next()
            if job is None:
                return
            if not job.future.set_running_or_notify_cancel():
                continue  # cancelled after it left the queue
            start = max(job.arrival, free_at)
            try:
                features = None if job.image is None else self._featurized(job.image)
            except BaseException as error:  # reported to the waiting call
                job.future.set_exception(error)
                continue
            free_at = max(start + self._service_time_s, self._clock())
            remaining = free_at - self._answer_lead_s - self._clock()
            job.future.due, job.future.paced = free_at, remaining > 0
            if remaining > 0:
                self._sleep(remaining)
            job.future.set_result(features)

    def _featurized(self, image: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if self._cpu is None:
            return self._featurize(image)
        with self._cpu.held():
            return self._featurize(image)

    def waiting(self) -> int:
        """Queue places in use (reserved or holding a job)."""
        with self._ready:
            return self._held

    def close(self) -> None:
        """Stops after the queued jobs are done."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        for worker in self._workers:
            worker.join()
