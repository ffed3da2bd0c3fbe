"""The judge on its own, with answers made in the test: cases load and expand as the data
says, evaluate.judge finds every kind of difference (a judge that found none would pass every
case), and the reports say what happened — one testsuite per driver, repetitions, progress."""
from __future__ import annotations

import pathlib
import xml.etree.ElementTree as ET

import pytest

from fpgascore_conformance import evaluate, report
from fpgascore_conformance.cases import (Expectation, inventory_changes, load_cases, load_servers, select,
                                         write_inventory)
from fpgascore_conformance.protocol import pb

GOLDEN = evaluate.GOLDEN["gradient.jpg"]["top5"]


def answer(*results: pb.CallResult, error: str = "") -> pb.DriverAnswer:
    return pb.DriverAnswer(id="x", results=list(results), error=error)


def scored(rows) -> pb.CallResult:
    return pb.CallResult(code=pb.OK, shape=[len(rows), 1000], top_k=[
        pb.TopK(predictions=[pb.Prediction(class_id=c, score=s) for c, s in row]) for row in rows])


def failed(code, message="", request_id="") -> pb.CallResult:
    return pb.CallResult(code=code, message=message, request_id=request_id)


def test_templates_expand_per_transport_and_select_by_id_or_template(tmp_path: pathlib.Path):
    (tmp_path / "a.toml").write_text('''
[[case]]
name = "both"
transports = ["plaintext", "tls"]
action = { kind = "images", images = ["gradient.jpg"] }
expect = { codes = ["OK"] }

[[case]]
name = "one"
''')
    cases = load_cases(tmp_path, load_servers())
    assert [c.id for c in cases] == ["both@plaintext", "both@tls", "one"]
    tls = cases[1]
    assert tls.transport == "tls" and tls.client["use_ssl"] is True and tls.client["access_token"] == "$primary"
    assert [c.id for c in select(cases, ["both"])] == ["both@plaintext", "both@tls"]
    assert [c.id for c in select(cases, ["*@tls", "one"])] == ["both@tls", "one"]


@pytest.mark.parametrize("text, error", [
    ('[[case]]\nname = "a"\nexpect = { codez = ["OK"] }\n', "unknown expectation fields ['codez']"),
    ('[[case]]\nname = "a"\nserver = "nowhere"\n', "unknown server 'nowhere'"),
    ('[[case]]\nname = "a"\n[[case]]\nname = "a"\n', "duplicate case ids: ['a']"),
])
def test_case_files_with_mistakes_are_refused(tmp_path: pathlib.Path, text: str, error: str):
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(ValueError, match=error.replace("[", r"\[").replace("]", r"\]")):
        load_cases(tmp_path, load_servers())


def test_the_shipped_cases_load():
    assert len({case.template for case in load_cases()}) >= 85


def test_a_matching_answer_passes():
    expect = Expectation(codes=["OK"], golden=["gradient.jpg"], attempts=1)
    assert evaluate.judge(expect, answer(scored([GOLDEN])), [{"case": "c"}], 10.0) == []


@pytest.mark.parametrize("expect, given, calls, wanted", [
    (Expectation(codes=["OK"]), answer(failed(pb.UNAVAILABLE, "down")), [],
     "codes ['UNAVAILABLE'] not in ['OK'] (down)"),
    (Expectation(codes_include=["UNAVAILABLE"]), answer(scored([GOLDEN])), [], "no call ended UNAVAILABLE"),
    (Expectation(golden=["gradient.jpg"]), answer(scored([[(1, 0.5)]])), [], "top-k of gradient.jpg is [(1, 0.5)]"),
    (Expectation(golden=["gradient.jpg", "gradient.jpg"]), answer(scored([GOLDEN])), [], "shape [1, 1000], expected [2, 1000]"),
    (Expectation(golden=["gradient.jpg"], score_offset=-2.0), answer(scored([GOLDEN])), [], "golden"),
    (Expectation(attempts=3), answer(scored([GOLDEN])), [{}, {}], "server saw 2 attempts, expected 3"),
    (Expectation(attempts_min=2), answer(scored([GOLDEN])), [{}], "expected at least 2"),
    (Expectation(attempts_max=1), answer(scored([GOLDEN])), [{}, {}], "expected at most 1"),
    (Expectation(message_contains="certificate"), answer(failed(pb.UNAVAILABLE, "connection refused")), [],
     "lacks 'certificate'"),
    (Expectation(message_excludes="s3cret"), answer(failed(pb.UNAUTHENTICATED, "key s3cret refused")), [],
     "a secret appears"),
    (Expectation(received_authorization=["k1"]), answer(scored([GOLDEN])), [{"authorization_sha256": "0" * 16}],
     "server received authorization fingerprints"),
    (Expectation(request_id_matches_log=True), answer(failed(pb.INTERNAL, "x", "r-1")), [{"request_id": "r-2"}],
     "error request_id 'r-1' is not one the server logged"),
    (Expectation(request_id_on_success=True), answer(scored([GOLDEN])), [{"request_id": "r-2"}],
     "result 0: request_id '' on success is not one the server logged"),
    (Expectation(max_elapsed_ms=100), answer(scored([GOLDEN])), [], "took 500 ms"),
    (Expectation(), answer(error="bad line"), [], "driver error: bad line"),
    (Expectation(), answer(), [], "driver returned no results"),
])
def test_every_difference_is_found(expect, given, calls, wanted):
    problems = evaluate.judge(expect, given, calls, 500.0)
    assert any(wanted in problem for problem in problems), problems


def test_server_calls_are_the_cases_own_attempts():
    log = "\n".join([
        '{"event":"predict","case":"run:python:a","attempt":1}',
        '{"event":"predict","case":"run:python:a#2","attempt":1}',
        '{"event":"predict","case":"run:python:ab","attempt":1}',     # another case sharing the prefix
        '{"event":"listening","case":"run:python:a"}',                # not a call
        'not json run:python:a "predict"',
    ])
    assert [c["case"] for c in evaluate.server_calls(log, "run:python:a")] == ["run:python:a", "run:python:a#2"]


def echoing(result: pb.CallResult, attempt: str, presented: str) -> pb.CallResult:
    result.trailers.update({"x-conformance-attempt": attempt, "x-conformance-authorization": presented})
    return result


def test_the_servers_echo_tells_the_attempts_and_keys_of_every_call():
    fp_a, fp_b = evaluate.fingerprint("key-a"), evaluate.fingerprint("key-b")
    given = answer(echoing(scored([GOLDEN]), "2", f"{fp_a},-"), echoing(failed(pb.UNAVAILABLE), "1", fp_b))
    calls = evaluate.echoed_calls(given)
    assert calls == [{"authorization_sha256": fp_a}, {"authorization_sha256": None}, {"authorization_sha256": fp_b}]
    # judged as the log's records would be: a wrong count or key is found
    assert evaluate.judge(Expectation(attempts=2), given, calls, 1.0) == ["server saw 3 attempts, expected 2"]
    one = answer(echoing(scored([GOLDEN]), "2", f"{fp_a},{fp_b}"))
    assert evaluate.judge(Expectation(received_authorization=["key-a", "key-b"]), one,
                          evaluate.echoed_calls(one), 1.0) == []
    assert "fingerprints" in evaluate.judge(Expectation(received_authorization=["key-b", "key-a"]), one,
                                            evaluate.echoed_calls(one), 1.0)[0]


@pytest.mark.parametrize("trailers", [
    {},                                                                       # the call never reached the server
    {"x-conformance-attempt": "x", "x-conformance-authorization": "-"},     # garbled
    {"x-conformance-attempt": "40", "x-conformance-authorization": "-,-"},  # more attempts than the echo keeps
])
def test_without_a_complete_echo_on_every_call_only_the_log_can_tell(trailers):
    incomplete = failed(pb.UNAVAILABLE)
    incomplete.trailers.update(trailers)
    assert evaluate.echoed_calls(answer(echoing(scored([GOLDEN]), "1", "-"), incomplete)) is None


def test_request_ids_and_several_calls_keys_still_need_the_log():
    one, two = answer(scored([GOLDEN])), answer(scored([GOLDEN]), scored([GOLDEN]))
    assert not evaluate.needs_log(Expectation(attempts=1, received_authorization=["k"]), one)
    assert evaluate.needs_log(Expectation(received_authorization=["k", "k"]), two)
    assert evaluate.needs_log(Expectation(request_id_on_success=True), one)


def result(language, case_id, status, repetition=0, problems=()):
    return report.CaseResult(language, case_id, case_id, status, list(problems), 100.0, repetition, 60.0)


def test_junit_has_one_testsuite_per_driver_and_names_repetitions(tmp_path: pathlib.Path):
    results = [result("python", "a", "pass"), result("python", "a", "fail", 1, ["boom"]),
               result("raw", "a", "xfail", 0, ["known"])]
    report.write_junit(tmp_path / "junit.xml", results)
    suites = ET.parse(tmp_path / "junit.xml").getroot()
    assert [s.get("name") for s in suites] == ["conformance.python", "conformance.raw"]
    python = suites[0]
    assert python.get("tests") == "2" and python.get("failures") == "1"
    assert [c.get("name") for c in python] == ["a (run 1)", "a (run 2)"]
    assert python[1].find("failure").get("message") == "boom"
    assert suites[1][0].find("skipped") is not None


def test_matrix_and_summary_show_the_worst_run_and_the_pass_rate_of_flaky_cases():
    results = ([result("python", "a", "pass", r) for r in range(3)]
               + [result("python", "b", "pass"), result("python", "b", "fail", 1, ["x"])])
    table = report.matrix([], ["python"], results)
    assert "| `a` | ✅ 3/3 |" in table and "| `b` | ❌ 1/2 |" in table
    text = report.summary(["python"], results, 12.5)
    assert "flaky (ok runs / runs):\n  python / b: 1/2" in text
    assert "python / b (run 2): x" in text
    assert "python: 4 passed, 1 failed; runner overhead 40 ms per case" in text
    assert "matrix: 5 results in 12.5 s" in text


def test_progress_counts_every_finished_case_with_the_time_since_the_start():
    lines = []
    now = [100.0]
    progress = report.Progress(12, lines.append, clock=lambda: now[0])
    now[0] = 161.0
    progress.finished(result("go", "image-jpeg", "pass"))
    progress.finished(result("go", "image-png", "fail", 2, ["wrong scores"]))
    assert lines[0].startswith("[ 1/12 1:01] go     image-jpeg")
    assert lines[1].startswith("[ 2/12 1:01] go     image-png run 3") and lines[1].endswith("wrong scores")
    assert " ok " in lines[0] and "FAIL" in lines[1]


def test_a_renamed_case_shows_as_gone_and_new_against_the_inventory(tmp_path: pathlib.Path):
    (tmp_path / "a.toml").write_text('[[case]]\nname = "kept"\n[[case]]\nname = "renamed"\n')
    cases = load_cases(tmp_path, load_servers())
    inventory = tmp_path / "INVENTORY.txt"
    write_inventory(cases, inventory)
    assert inventory_changes(cases, inventory) == ([], [])
    (tmp_path / "a.toml").write_text('[[case]]\nname = "kept"\n[[case]]\nname = "new-name"\n')
    assert inventory_changes(load_cases(tmp_path, load_servers()), inventory) == (["renamed"], ["new-name"])


def test_the_shipped_inventory_lists_every_case():
    assert inventory_changes(load_cases()) == ([], []), "run scripts/conformance.sh --write-inventory"


def test_needs_are_derived_from_the_case_plus_its_explicit_list(tmp_path: pathlib.Path):
    from fpgascore_conformance.cases import needs_of
    (tmp_path / "a.toml").write_text('''
[[case]]
name = "controls"
transports = ["plaintext", "tls"]
client = { metadata = { "x-conformance-fail" = "1:UNAVAILABLE" }, secondary_access_token = "$secondary" }
action = { kind = "metadata" }
expect = { codes = ["OK"], metadata = { model_name = "m" } }

[[case]]
name = "logged"
server = "rotation"
needs = ["server-log"]
steps = [{ rotate = { primary = "$primary2" } }, { expect = { codes = ["OK"] } }]
''')
    profiles = load_servers()
    got = {case.id: needs_of(case, profiles[case.server]) for case in load_cases(tmp_path)}
    assert got == {"controls@plaintext": ["server-controls", "reference-model", "plaintext", "secondary-key"],
                   "controls@tls": ["server-controls", "reference-model", "tls", "keys", "secondary-key"],
                   "logged": ["server-profile", "key-rotation", "server-log", "tls", "keys"]}
    (tmp_path / "a.toml").write_text('[[case]]\nname = "x"\nneeds = ["server-controls"]\n')
    with pytest.raises(ValueError, match="cannot be written"):
        load_cases(tmp_path)


def test_without_the_server_log_only_the_answer_is_judged():
    expect = Expectation(codes=["OK"], golden=["gradient.jpg"], attempts=3, received_authorization=["k"],
                         request_id_on_success=True)
    other_model = scored([[(7, 0.5), (3, 0.25)]])
    assert evaluate.judge(expect, answer(scored([GOLDEN])), [], 1.0)            # the log is judged by default
    assert evaluate.judge(expect, answer(scored([GOLDEN])), [], 1.0, server_log=False) == []
    assert evaluate.judge(expect, answer(other_model), [], 1.0, server_log=False)  # golden scores still checked
    assert evaluate.judge(expect, answer(other_model), [], 1.0, server_log=False, golden_scores=False) == []
    assert evaluate.judge(expect, answer(scored([GOLDEN, GOLDEN])), [], 1.0, server_log=False, golden_scores=False)
    assert evaluate.judge(expect, answer(failed(pb.UNAVAILABLE, "down")), [], 1.0, server_log=False)


def test_skipped_results_are_ok_and_counted():
    results = [result("py", "a", "pass"), result("py", "b", "skip", problems=["needs the reference server: x"])]
    assert all(r.ok for r in results)
    assert "py: 1 passed, 0 failed, 1 skipped" in report.summary(["py"], results, 1.0)
    assert "⏭️ skipped" in report.matrix([], ["py"], results)
