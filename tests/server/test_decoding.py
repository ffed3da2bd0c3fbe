"""Every PNG colour type and bit depth, CMYK JPEG and multi-picture JPEG decode to the RGB the
decoding rules name (TensorFlow's decode_png/decode_jpeg with channels=3), or are refused;
none is guessed. PNGs are written by tests/server/png.py, not by PIL."""
import io

import numpy as np
import pytest
from PIL import Image

from fpgascore_emulator import decoding

from . import rpc
from .png import GREY, GREY_ALPHA, PALETTE, RGB, RGBA, png

RANDOM = np.random.default_rng(7)
H, W = 5, 7


def _samples(channels: int, bit_depth: int) -> np.ndarray:
    return RANDOM.integers(0, 2 ** bit_depth, size=(H, W, channels), dtype=np.uint32)


def _to_8_bits(samples: np.ndarray, bit_depth: int) -> np.ndarray:
    """Low depths scale to 0..255 (libpng's expand), 16 bits keep the high byte (strip_16)."""
    if bit_depth == 16:
        return (samples >> 8).astype(np.uint8)
    return (samples * 255 // (2 ** bit_depth - 1)).astype(np.uint8)


@pytest.mark.parametrize("bit_depth", [1, 2, 4, 8, 16])
def test_greyscale_of_every_depth_is_repeated_into_three_channels(bit_depth):
    samples = _samples(1, bit_depth)
    expected = np.repeat(_to_8_bits(samples, bit_depth), 3, axis=2)
    assert np.array_equal(decoding.decode(png(samples, GREY, bit_depth)), expected)


@pytest.mark.parametrize("colour_type, channels", [(GREY_ALPHA, 2), (RGB, 3), (RGBA, 4)])
@pytest.mark.parametrize("bit_depth", [8, 16])
def test_colour_and_alpha_types_keep_their_colour_and_drop_alpha(colour_type, channels, bit_depth):
    samples = _samples(channels, bit_depth)
    colour = _to_8_bits(samples, bit_depth)[:, :, : 1 if colour_type == GREY_ALPHA else 3]
    expected = np.repeat(colour, 3, axis=2) if colour_type == GREY_ALPHA else colour
    assert np.array_equal(decoding.decode(png(samples, colour_type, bit_depth)), expected)


@pytest.mark.parametrize("bit_depth", [2, 4, 8])
def test_palette_images_are_looked_up_and_their_transparency_dropped(bit_depth):
    entries = 2 ** bit_depth
    palette = RANDOM.integers(0, 256, size=(entries, 3))
    indices = RANDOM.integers(0, entries, size=(H, W, 1), dtype=np.uint32)
    data = png(indices, PALETTE, bit_depth, palette=palette, trns=bytes(range(0, 256, 256 // entries))[:entries])
    assert np.array_equal(decoding.decode(data), palette[indices[:, :, 0]].astype(np.uint8))


def test_a_transparent_colour_chunk_does_not_change_an_rgb_image():
    samples = _samples(3, 8)
    first = bytes(int(v) for v in samples[0, 0])
    data = png(samples, RGB, 8, trns=b"".join(b"\x00" + bytes([v]) for v in first))
    assert np.array_equal(decoding.decode(data), samples.astype(np.uint8))


def test_a_16_bit_greyscale_png_scores_as_its_8_bit_equivalent(caller):
    samples = RANDOM.integers(0, 65536, size=(64, 48, 1), dtype=np.uint32)
    wide, narrow = png(samples, GREY, 16), png(samples >> 8, GREY, 8)
    scores = [rpc.decode(caller.predict(rpc.image_request([data]))[0].outputs["output_alias"])
              for data in (wide, narrow)]
    assert np.array_equal(scores[0], scores[1])


def _jpeg(image: Image.Image, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, **options)
    return out.getvalue()


def test_cmyk_jpeg_is_converted_with_the_naive_formula():
    cmyk = np.stack(np.meshgrid(np.linspace(0, 255, 16), np.linspace(0, 255, 16)) * 2, axis=2).astype(np.uint8)
    data = _jpeg(Image.fromarray(cmyk, "CMYK"), format="JPEG", quality=100)
    with Image.open(io.BytesIO(data)) as stored:
        assert stored.mode == "CMYK"
        c, m, y, k = (np.asarray(stored, dtype=np.int32)[:, :, i] for i in range(4))
    expected = np.stack([(255 - v) * (255 - k) / 255 for v in (c, m, y)], axis=2)
    assert np.abs(decoding.decode(data).astype(np.int32) - expected).max() <= 1


def test_a_multi_picture_jpeg_scores_its_first_picture():
    first = Image.new("RGB", (32, 24), (200, 30, 30))
    second = Image.new("RGB", (32, 24), (20, 30, 220))
    data = _jpeg(first, format="MPO", save_all=True, append_images=[second], quality=95)
    with Image.open(io.BytesIO(data)) as opened:
        assert opened.format == "MPO" and getattr(opened, "n_frames", 1) == 2
    alone = _jpeg(first, format="JPEG", quality=95)
    assert decoding.read_header(data).format == "JPEG"
    assert np.array_equal(decoding.decode(data), decoding.decode(alone))


@pytest.mark.parametrize("make, message", [
    (lambda: _jpeg(Image.new("RGB", (4, 4)), format="GIF"), "image format GIF is not accepted"),
    (lambda: _jpeg(Image.new("RGB", (4, 4)), format="TIFF"), "image format TIFF is not accepted"),
    (lambda: png(np.zeros((1, 9000, 1), dtype=np.uint32), GREY, 8), "image is too large (9000x1)"),
])
def test_what_is_not_accepted_is_refused_from_the_header(make, message):
    with pytest.raises(decoding.ImageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decoding.read_header(make())


def test_pixels_come_the_public_way_where_pil_cannot_pack_them_in_one_pass(monkeypatch):
    """decoding.rgb_pixels packs with PIL's raw encoder in one call; a PIL whose encoder needs
    more calls (a small buffer) gets np.asarray's pixels, the same ones."""
    samples = _samples(3, 8).astype(np.uint8)
    data = png(samples, RGB, 8)
    real = Image._getencoder

    class SmallBuffer:
        def __init__(self, *args):
            self._encoder = real(*args)

        def setimage(self, im):
            self._encoder.setimage(im)

        def encode(self, size):  # at most 64 bytes a call
            return self._encoder.encode(min(size, 64))

    assert np.array_equal(decoding.decode(data), samples)
    monkeypatch.setattr(Image, "_getencoder", SmallBuffer)
    assert np.array_equal(decoding.decode(data), samples)
