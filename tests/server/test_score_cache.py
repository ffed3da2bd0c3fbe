"""The score cache (score_cache.py): bounded, least recently used out, keyed by every setting
the scores depend on; on a real server, a hit answers the same bits, still obeys every
conformance control, and still takes its FPGA time."""
import io
import socket
import urllib.request

import grpc
import numpy as np
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig
from fpgascore_emulator import model as models
from fpgascore_emulator.config import Settings
from fpgascore_emulator.fpga import ANSWER_LEAD_S, FpgaPool
from fpgascore_emulator.score_cache import ENTRY_OVERHEAD_BYTES, ScoreCache, model_key
from fpgascore_emulator.service import PredictionServicer

from . import rpc
from .test_fpga_timeline import FakeTime

SCORES = np.linspace(0, 1, 1000, dtype=np.float32)
ENTRY_BYTES = SCORES.nbytes + ENTRY_OVERHEAD_BYTES


def distinct_png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


# -- the cache itself --------------------------------------------------------------------------

def test_a_hit_gives_the_scores_it_was_given_read_only():
    cache = ScoreCache(4, 1 << 20)
    key = ScoreCache.key(b"model", b"image bytes")
    assert cache.get(key) is None
    cache.put(key, SCORES, pixels=12)
    entry = cache.get(key)
    assert entry is not None and entry.pixels == 12 and entry.scores.tobytes() == SCORES.tobytes()
    assert not entry.scores.flags.writeable
    assert (cache.hits, cache.misses) == (1, 1)


def test_many_distinct_images_stay_within_the_entry_bound_least_recently_used_out():
    cache = ScoreCache(8, 1 << 30)
    keys = [ScoreCache.key(b"model", str(i).encode()) for i in range(5000)]
    first = keys[0]
    cache.put(first, SCORES, 1)
    for key in keys[1:]:
        cache.get(first)  # kept in use: never the least recently used
        cache.put(key, SCORES, 1)
        assert cache.entries <= 8
    assert cache.get(first) is not None
    assert cache.get(keys[1]) is None  # long evicted
    assert cache.bytes == 8 * ENTRY_BYTES


def test_the_byte_bound_holds_whatever_the_entry_bound():
    cache = ScoreCache(1000, 3 * ENTRY_BYTES + 10)
    for i in range(100):
        cache.put(ScoreCache.key(b"m", bytes([i])), SCORES, 1)
        assert cache.bytes <= 3 * ENTRY_BYTES + 10
    assert cache.entries == 3


@pytest.mark.parametrize("entries, size", [(0, 1 << 20), (16, 0)])
def test_zero_disables_it(entries, size):
    cache = ScoreCache(entries, size)
    assert not cache.enabled
    cache.put(ScoreCache.key(b"m", b"x"), SCORES, 1)
    assert cache.entries == 0 and cache.bytes == 0


def servicer_key(settings: Settings, model: models.Model) -> bytes:
    pool = FpgaPool(model.featurize, 1, 1, 0.0)
    try:
        return PredictionServicer(settings, pool, model, ScoreCache(4, 1 << 20))._model_key
    finally:
        pool.close()


def test_the_key_holds_every_setting_the_scores_depend_on():
    base_settings, base_model = Settings(), models.emulated()
    base = servicer_key(base_settings, base_model)
    variants = {
        "another weight seed": servicer_key(base_settings, models.emulated(seed=base_model.settings[1] + 1)),
        "the null model": servicer_key(base_settings, models.null()),
        "another model name": servicer_key(Settings(model_name="other"), base_model),
        "another model version": servicer_key(Settings(model_version=2), base_model),
    }
    for name, key in variants.items():
        assert key != base, f"the score cache key ignores {name}"
    assert servicer_key(Settings(), models.emulated()) == base  # and it is a function of them only
    # The seed does change the scores: a key without it would answer another model's.
    image = models.emulated().preprocess(rpc.image("tiny-noise.png"))
    other = models.emulated(seed=base_model.settings[1] + 1)
    assert (base_model.classify(base_model.featurize(image)[None]).tobytes()
            != other.classify(other.featurize(image)[None]).tobytes())
    assert model_key("a", 1) != model_key("a", 2)


def test_a_cached_image_still_takes_its_fpga_time():
    fake = FakeTime()
    computed = []
    pool = FpgaPool(lambda image: computed.append(image) or np.zeros(4, np.float32), fpgas=1, queue_depth=4,
                    service_time_s=0.020, clock=fake.clock, sleep=fake.sleep)
    try:
        arrival = fake.now
        futures = pool.reserve(2).submit([None, None], arrival)
        assert [future.result(timeout=5) for future in futures] == [None, None]
    finally:
        pool.close()
    assert computed == []  # nothing computed for a hit ...
    assert fake.now == pytest.approx(arrival + 2 * 0.020 - ANSWER_LEAD_S)  # ... but two service times taken


# -- on a real server ---------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _scrape(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {sample.name: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name.startswith("fpgascore_score_cache")}


@pytest.fixture(scope="module")
def cached_server():
    port = _free_port()
    with EmulatorProcess(ServerConfig(conformance=True, extra_env={
            "FPGASCORE_METRICS_PORT": str(port), "FPGASCORE_SCORE_CACHE_ENTRIES": "3"})) as server:
        yield rpc.plaintext(server.target), port


def test_a_hit_answers_the_same_bits_and_is_counted(cached_server):
    caller, port = cached_server
    request = rpc.image_request([rpc.image("large-150k.jpg")])
    before = _scrape(port)
    first, _ = caller.predict(request)
    second, _ = caller.predict(request)
    after = _scrape(port)
    assert second.SerializeToString(deterministic=True) == first.SerializeToString(deterministic=True)
    assert after["fpgascore_score_cache_hits_total"] - before["fpgascore_score_cache_hits_total"] == 1
    assert after["fpgascore_score_cache_misses_total"] - before["fpgascore_score_cache_misses_total"] == 1
    # A batch mixing a hit and a miss: each image keeps its own scores, in order.
    mixed, _ = caller.predict(rpc.image_request([rpc.image("gradient.jpg"), rpc.image("large-150k.jpg")]))
    alone, _ = caller.predict(rpc.image_request([rpc.image("gradient.jpg")]))
    scores = rpc.decode(mixed.outputs["output_alias"])
    assert scores[1].tobytes() == rpc.decode(first.outputs["output_alias"])[0].tobytes()
    assert scores[0].tobytes() == rpc.decode(alone.outputs["output_alias"])[0].tobytes()


def test_a_hit_still_obeys_the_conformance_controls(cached_server):
    caller, _ = cached_server
    request = rpc.image_request([rpc.image("rings.jpg")])
    clean, _ = caller.predict(request)
    tampered, _ = caller.predict(request, metadata=[("x-conformance-scores", "nan")])
    assert np.isnan(rpc.decode(tampered.outputs["output_alias"])).all()
    error = caller.error(request, metadata=[("x-conformance-case", "cache-fail"), ("x-conformance-fail", "1:UNAVAILABLE")])
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    again, _ = caller.predict(request)  # the tampered answer did not change what is cached
    assert again.SerializeToString(deterministic=True) == clean.SerializeToString(deterministic=True)
    with_features, _ = caller.predict(_with_features(request))
    assert set(with_features.outputs) == {"output_alias", "features"}
    assert rpc.decode(with_features.outputs["output_alias"]).tobytes() == \
        rpc.decode(clean.outputs["output_alias"]).tobytes()


def _with_features(request):
    copy = request.__class__()
    copy.CopyFrom(request)
    copy.output_filter.extend(["output_alias", "features"])
    return copy


def test_many_distinct_images_keep_the_server_cache_within_its_bound(cached_server):
    caller, port = cached_server
    for seed in range(8):
        caller.predict(rpc.image_request([distinct_png(seed)]))
        samples = _scrape(port)
        assert samples["fpgascore_score_cache_entries"] <= 3
        assert samples["fpgascore_score_cache_bytes"] <= 3 * ENTRY_BYTES


def test_zero_entries_turns_it_off_on_a_server():
    port = _free_port()
    with EmulatorProcess(ServerConfig(conformance=False, extra_env={
            "FPGASCORE_METRICS_PORT": str(port), "FPGASCORE_SCORE_CACHE_ENTRIES": "0"})) as server:
        caller = rpc.plaintext(server.target)
        request = rpc.image_request([rpc.image("tiny-noise.png")])
        first, _ = caller.predict(request)
        second, _ = caller.predict(request)
        samples = _scrape(port)
    assert second.SerializeToString(deterministic=True) == first.SerializeToString(deterministic=True)
    assert samples["fpgascore_score_cache_hits_total"] == 0 and samples["fpgascore_score_cache_entries"] == 0
