"""The key check itself: both keys are always compared with hmac.compare_digest (no early
exit that would time which key matched), raw or Bearer, nothing else."""
import pytest

from fpgascore_emulator import security
from fpgascore_emulator.config import Settings


@pytest.fixture
def store(tmp_path):
    (tmp_path / "p").write_text("primary-123\n")
    (tmp_path / "s").write_text("secondary-456\n")
    return security.KeyStore(Settings(primary_key_file=str(tmp_path / "p"),
                                      secondary_key_file=str(tmp_path / "s")), environ={})


@pytest.mark.parametrize("header, accepted", [
    ("primary-123", True), ("secondary-456", True), ("Bearer primary-123", True), ("bEaReR secondary-456", True),
    ("primary-12", False), ("Basic primary-123", False), ("", False), (None, False), ("\x00" * 32, False),
])
def test_both_keys_are_compared_in_constant_time(store, monkeypatch, header, accepted):
    compared = []
    real = security.hmac.compare_digest

    def spy(a, b):
        compared.append(b)
        return real(a, b)
    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    assert store.accepts(header) is accepted
    if header is not None:
        assert compared == [b"primary-123", b"secondary-456"]  # both, whatever matched


def test_an_unset_secondary_matches_nothing_but_is_still_compared(tmp_path, monkeypatch):
    (tmp_path / "p").write_text("only-primary")
    store = security.KeyStore(Settings(primary_key_file=str(tmp_path / "p")), environ={})
    assert store.accepts("only-primary")
    for header in ("", "\x00" * 32, "None"):
        assert not store.accepts(header)
    calls = []
    monkeypatch.setattr(security.hmac, "compare_digest", lambda a, b: calls.append(b) or False)
    store.accepts("anything")
    assert len(calls) == 2


def test_keys_from_the_environment(tmp_path):
    store = security.KeyStore(Settings(), environ={"FPGASCORE_PRIMARY_KEY": "env-key"})
    assert store.configured and store.accepts("Bearer env-key")
