"""The runner's side of the driver protocol: what it writes, what it accepts, how it builds
requests from cases and how it picks drivers."""
from __future__ import annotations

import pathlib

import pytest

from fpgascore_conformance import drivers, evaluate, protocol
from fpgascore_conformance.cases import Expectation, load_cases
from fpgascore_conformance.protocol import pb

from .conftest import REPO


def test_the_runner_writes_lower_camel_case_on_one_line():
    line = protocol.encode(pb.DriverRequest(id="a\nb", use_ssl=True, timeout_ms=300, top_k=5,
                                            action=pb.ACTION_IMAGES, metadata={"x-conformance-case": "c"}))
    assert "\n" not in line
    assert '"useSsl": true' in line and '"timeoutMs": 300' in line and '"topK": 5' in line
    assert '"action": "ACTION_IMAGES"' in line and "use_ssl" not in line


@pytest.mark.parametrize("line", [
    # lowerCamelCase, names
    '{"id": "x", "results": [{"code": "UNAVAILABLE", "requestId": "r", "message": "m"}]}',
    # proto names, enum numbers, unknown fields
    '{"id": "x", "results": [{"code": 14, "request_id": "r", "message": "m", "later": {"a": 1}}], "extra": []}',
])
def test_any_canonical_json_answer_is_accepted(line):
    answer = protocol.decode(line, pb.DriverAnswer)
    assert answer.id == "x" and answer.results[0].code == pb.UNAVAILABLE and answer.results[0].request_id == "r"


def test_defaults_may_be_left_out_and_int64_may_be_a_number_or_a_string():
    ok = protocol.decode('{"id": "x", "results": [{}]}', pb.DriverAnswer)
    assert protocol.code_name(ok.results[0].code) == "OK"
    for version in ('"1"', "1"):
        answer = protocol.decode('{"id": "m", "results": [{"metadata": {"modelName": "resnet50", "version": %s}}]}'
                                 % version, pb.DriverAnswer)
        assert evaluate.metadata_of(answer.results[0])["version"] == 1
    absent = protocol.decode('{"id": "m", "results": [{"metadata": {"modelName": "resnet50"}}]}', pb.DriverAnswer)
    assert evaluate.metadata_of(absent.results[0])["version"] is None


@pytest.mark.parametrize("line", ['{"id": "x", "results": "no"}', "not json", '{"id": 3}', "[]"])
def test_not_an_answer_is_a_protocol_error(line):
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(line, pb.DriverAnswer)


def test_version_handshake():
    assert protocol.refusal(pb.HelloAnswer(protocol_version="1.0")) is None
    assert protocol.refusal(pb.HelloAnswer(protocol_version="1.7")) is None  # minor versions are compatible
    assert "speaks driver protocol 2.0, this runner speaks 1.1" in protocol.refusal(pb.HelloAnswer(protocol_version="2.0"))
    assert "names no protocol_version" in protocol.refusal(pb.HelloAnswer())
    assert "speaks driver protocol banana" in protocol.refusal(pb.HelloAnswer(protocol_version="banana"))


def test_judging_reads_typed_answers():
    good = pb.CallResult(code=pb.OK, shape=[1, 1000], top_k=[pb.TopK(predictions=[pb.Prediction(class_id=0, score=1.0)])])
    expect = Expectation(codes=("OK",), golden=("gradient.jpg",))
    golden = evaluate.GOLDEN["gradient.jpg"]["top5"][0]
    good.top_k[0].predictions[0].class_id, good.top_k[0].predictions[0].score = golden[0], golden[1]
    assert evaluate.judge(expect, pb.DriverAnswer(id="x", results=[good]), [], 1.0) == []
    no_rows = pb.CallResult(code=pb.OK, shape=[1, 1000])
    assert "0 top-k rows for 1 images" in evaluate.judge(expect, pb.DriverAnswer(results=[no_rows]), [], 1.0)[0]
    assert evaluate.judge(expect, pb.DriverAnswer(error="bad request: x"), [], 1.0) == ["driver error: bad request: x"]
    wrong = pb.DriverAnswer(results=[pb.CallResult(code=pb.UNAVAILABLE, message="m")])
    assert evaluate.judge(expect, wrong, [], 1.0)[0].startswith("codes ['UNAVAILABLE'] not in ['OK']")


# What the runner turns into DriverRequest fields (runner.Run._request). A case that uses a
# client option the runner does not send would silently test nothing.
CLIENT_KEYS = {"use_ssl", "roots", "env_roots", "server_name_override", "access_token", "secondary_access_token",
               "auth_scheme", "allow_insecure_key", "timeout_ms", "retry", "metadata", "model_name", "signature_name"}
ACTION_KEYS = {"kind", "images", "calls", "concurrency", "from_images", "zeros_shape", "request", "cancel_after_ms"}


def test_every_case_option_is_one_the_runner_sends():
    for case in load_cases():
        assert set(case.client) <= CLIENT_KEYS, (case.id, set(case.client) - CLIENT_KEYS)
        assert set(case.action) <= ACTION_KEYS, (case.id, set(case.action) - ACTION_KEYS)
        assert set(case.client.get("retry") or {}) <= set(pb.RetryPolicy.DESCRIPTOR.fields_by_name), case.id


def test_requests_for_every_case_round_trip(tmp_path):
    from fpgascore_conformance import runner
    from fpgascore_conformance.inputs import RunInputs

    run = runner.Run(runner.Options(server_mode="process", out_dir=tmp_path))
    run.tls = type("Tls", (), {"ca": pathlib.Path("/ca.pem"), "untrusted_ca": pathlib.Path("/other.pem"),
                               "self_signed": type("Pair", (), {"cert": pathlib.Path("/self.pem")})})
    run.servers = {name: type("Server", (), {"port": 40000 + i})() for i, name in enumerate(run.profiles)}
    inputs = RunInputs(tmp_path / "inputs")
    for case in run.cases:
        message = run._request(case, f"p:{case.id}", inputs, session=None)
        again = protocol.decode(protocol.encode(message), pb.DriverRequest)
        assert again == message, case.id
        assert message.action != pb.ACTION_UNSPECIFIED and message.port and message.host == "127.0.0.1"
        assert message.metadata["x-conformance-case"] == f"p:{case.id}"
        for path in [*message.images, message.tensor_file, message.request_file]:
            assert not path or pathlib.Path(path).is_absolute() and pathlib.Path(path).exists(), (case.id, path)
        if "access_token" in case.client:
            assert message.HasField("access_token"), case.id
    by_id = {case.id: case for case in run.cases}
    bearer = run._request(by_id["auth-bearer"], "p", inputs, session="s")
    assert bearer.auth_scheme == pb.AUTH_SCHEME_BEARER and bearer.session == "s" and bearer.root_certificates_file
    assert not run._request(by_id["auth-none"], "p", inputs, None).HasField("access_token")


def test_driver_selection(tmp_path, monkeypatch):
    monkeypatch.setenv("FPGASCORE_CALLER_DIR", str(tmp_path))
    (tmp_path / "known.txt").write_text("x\n")
    names = lambda specs: [s.name for s in specs]  # noqa: E731
    assert names(drivers.select_drivers(None, [])) == ["python", "go", "csharp"]
    assert names(drivers.select_drivers(None, ["mine=./d --flag 'a b'"])) == ["mine"]
    assert names(drivers.select_drivers("go", ["mine=./d"])) == ["go", "mine"]
    assert names(drivers.select_drivers("none", ["mine=./d"])) == ["mine"]
    mine, = drivers.select_drivers(None, ["mine=./d --flag 'a b'"], ["mine=known.txt"])
    assert list(mine.run) == ["./d", "--flag", "a b"] and mine.cwd == tmp_path and mine.build is None
    assert mine.known_failing == tmp_path / "known.txt" and drivers.known_failing(mine) == ["x"]
    python, = drivers.select_drivers("python", [])
    assert python.known_failing == REPO / "conformance" / "known_failing" / "python.txt"
    assert python.cwd == REPO and all(pathlib.Path(p).is_absolute() for p in python.run)
    for bad in (["python=./d"], ["a=./d", "a=./e"], ["no-command="], ["bad name=./d"]):
        with pytest.raises(SystemExit):
            drivers.select_drivers(None, bad)
    with pytest.raises(SystemExit, match="do not run"):
        drivers.select_drivers(None, ["mine=./d"], ["other=known.txt"])
    with pytest.raises(SystemExit, match="no driver selected"):
        drivers.select_drivers("none", [])
