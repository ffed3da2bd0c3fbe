"""The floor: a plain TCP exchange on loopback with the payload sizes of the scoring
benchmarks — the request's bytes one way, a 4,000-byte reply (1,000 float32 scores) back.
Every client latency can be read as a multiple of this.

    /usr/bin/python3 bench/tcp_floor.py [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import pathlib
import socket
import struct
import threading
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
JPEG = (ROOT / "conformance" / "testdata" / "images" / "large-150k.jpg").stat().st_size
PAYLOADS = {"jpeg-150k": JPEG, "batch-8": 8 * JPEG, "tensor-602112": 602_112}
REPLY = b"\0" * 4000


def _serve(listener: socket.socket) -> None:
    connection, _ = listener.accept()
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = bytearray(8 * 2**20)
    view = memoryview(buffer)
    with connection:
        while True:
            header = connection.recv(4, socket.MSG_WAITALL)
            if len(header) < 4:
                return
            size = struct.unpack("<I", header)[0]
            received = 0
            while received < size:
                received += connection.recv_into(view[received:size])
            connection.sendall(REPLY)


def measure(size: int, rounds: int) -> np.ndarray:
    listener = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=_serve, args=(listener,), daemon=True).start()
    payload = struct.pack("<I", size) + b"\x5a" * size
    timings = []
    with socket.create_connection(listener.getsockname()) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(rounds):
            started = time.perf_counter()
            client.sendall(payload)
            client.recv(len(REPLY), socket.MSG_WAITALL)
            timings.append(time.perf_counter() - started)
    listener.close()
    return np.array(timings[rounds // 10:]) * 1000


def measure_all(rounds: int) -> dict:
    """Percentiles of the exchange for every payload size, by payload name."""
    report = {}
    for name, size in PAYLOADS.items():
        ms = measure(size, rounds)
        report[name] = {"bytes": size, "p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90)),
                        "p99_ms": float(np.percentile(ms, 99))}
    return report


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--json")
    args = parser.parse_args()
    report = measure_all(args.rounds)
    for name, size in PAYLOADS.items():
        print(f"tcp floor {name:14} {size:9d} B  p50 {report[name]['p50_ms']:.3f} ms  "
              f"p90 {report[name]['p90_ms']:.3f} ms  p99 {report[name]['p99_ms']:.3f} ms")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
