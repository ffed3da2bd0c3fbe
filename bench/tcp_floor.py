"""The floor: plain TCP on loopback with the payload sizes of the scoring benchmarks, one
connection, one exchange at a time, measured two ways:
  * echo: the payload out and the same number of bytes back (the floor the benchmarks divide
    by: what the machine does with the payload, both ways, with no protocol at all);
  * exchange: the payload out, a 4,000-byte reply (1,000 float32 scores) back — the shape of
    one scoring call of one image, a lower floor still.
Every client latency can be read as a multiple of these.

    /usr/bin/python3 bench/tcp_floor.py [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import pathlib
import socket
import struct
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
JPEG = (ROOT / "conformance" / "testdata" / "images" / "large-150k.jpg").stat().st_size
PAYLOADS = {"jpeg-150k": JPEG, "batch-8": 8 * JPEG, "tensor-602112": 602_112}
SCORES_REPLY = 4000


def _serve(listener: socket.socket, reply_size: int) -> None:
    connection, _ = listener.accept()
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = bytearray(8 * 2**20)
    view = memoryview(buffer)
    reply = b"\0" * reply_size
    with connection:
        while True:
            header = connection.recv(4, socket.MSG_WAITALL)
            if len(header) < 4:
                return
            size = struct.unpack("<I", header)[0]
            received = 0
            while received < size:
                received += connection.recv_into(view[received:size])
            connection.sendall(reply)


def measure(size: int, rounds: int, reply_size: int) -> np.ndarray:
    """Milliseconds per exchange of `size` bytes out and `reply_size` bytes back (after a warm-up)."""
    listener = socket.create_server(("127.0.0.1", 0))
    # A process of its own, as a server is: no interpreter lock shared with the client.
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(listener, reply_size), daemon=True)
    server.start()
    reply = bytearray(reply_size)
    payload = struct.pack("<I", size) + b"\x5a" * size
    timings = []
    with socket.create_connection(listener.getsockname()) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(rounds):
            started = time.perf_counter()
            client.sendall(payload)
            client.recv_into(reply, reply_size, socket.MSG_WAITALL)
            timings.append(time.perf_counter() - started)
    listener.close()
    server.join(timeout=10)
    return np.array(timings[rounds // 10:]) * 1000


def measure_all(rounds: int) -> dict:
    """Percentiles for every payload size, by payload name: the echo's as p50_ms/p90_ms/p99_ms
    (the floor), the exchange's as exchange_p50_ms/..."""
    report = {}
    for name, size in PAYLOADS.items():
        echo, exchange = measure(size, rounds, size), measure(size, rounds, SCORES_REPLY)
        report[name] = {"bytes": size}
        for prefix, ms in (("", echo), ("exchange_", exchange)):
            report[name].update({f"{prefix}p{q}_ms": float(np.percentile(ms, q)) for q in (50, 90, 99)})
    return report


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--json")
    args = parser.parse_args()
    report = measure_all(args.rounds)
    for name, size in PAYLOADS.items():
        r = report[name]
        print(f"tcp floor {name:14} {size:9d} B  echo p50 {r['p50_ms']:.3f} ms  p90 {r['p90_ms']:.3f} ms  "
              f"p99 {r['p99_ms']:.3f} ms  |  exchange (4,000 B back) p50 {r['exchange_p50_ms']:.3f} ms  "
              f"p99 {r['exchange_p99_ms']:.3f} ms")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
