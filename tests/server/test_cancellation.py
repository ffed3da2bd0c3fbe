"""Work for callers who left: the queued images of a cancelled call are dropped (their queue
places freed at once) and the call is logged CANCELLED, not OK — also when the server's drain
cuts calls off."""
import json
import time

import grpc

from fpgascore.v1 import prediction_service_pb2_grpc
from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig

from . import rpc

ONE = rpc.image_request([rpc.image("tiny-noise.png")])


def predict_lines(server):
    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "predict"]


def test_cancelled_calls_free_their_queue_places_and_are_logged_cancelled():
    config = ServerConfig(service_time_ms=2000, fpgas=1, queue_depth=4)
    with EmulatorProcess(config) as server:
        channel = grpc.insecure_channel(server.target)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        on_fpga = stub.Predict.future(ONE, timeout=30)
        time.sleep(0.3)
        queued = [stub.Predict.future(ONE, timeout=30) for _ in range(4)]
        time.sleep(0.3)
        assert rpc.plaintext(server.target).error(ONE).code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        for call in queued:
            call.cancel()
        # Four places are free again long before the FPGA could have taken the four images (8 s).
        accepted = None
        for _ in range(10):
            time.sleep(0.3)
            attempt = stub.Predict.future(rpc.image_request([rpc.image("tiny-noise.png")] * 4), timeout=30)
            time.sleep(0.3)
            if not attempt.done():
                accepted = attempt
                break
        assert accepted is not None, "the cancelled calls' queue places were not freed"
        accepted.cancel()
        on_fpga.result()
        time.sleep(0.5)
        codes = [line["code"] for line in predict_lines(server)]
        channel.close()
    assert codes.count("CANCELLED") == 5, codes
    assert codes.count("OK") == 1, codes


def test_a_call_cut_off_by_the_drain_is_logged_cancelled():
    config = ServerConfig(service_time_ms=3000, fpgas=1, extra_env={"FPGASCORE_GRACE_SECONDS": "0.5"})
    server = EmulatorProcess(config)
    server.start()
    try:
        channel = grpc.insecure_channel(server.target)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        call = stub.Predict.future(rpc.image_request([rpc.image("tiny-noise.png")] * 2), timeout=30)
        time.sleep(0.5)
    finally:
        server.stop()
    assert call.exception() is not None
    lines = predict_lines(server)
    channel.close()
    assert [line["code"] for line in lines] == ["CANCELLED"], lines
    assert "its images were dropped" in lines[0]["message"]
