"""CPU pre-processing, as the scoring service did it before the FPGA:
decode JPEG/PNG -> RGB; resize the shorter side to 256 (bilinear); centre-crop 224x224;
subtract the channel means R 123.68, G 116.779, B 103.939; reorder to BGR.

The resize is written out in numpy (separable, half-pixel centres, float64 element-wise
operations only), so it gives the same bits on every machine; only the JPEG decoder's own
output may differ between libjpeg versions. PNG decoding is exact everywhere.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

RESIZE_SHORTER_SIDE = 256
CROP = 224
MEANS_RGB = np.array([123.68, 116.779, 103.939], dtype=np.float32)
ACCEPTED_FORMATS = ("JPEG", "PNG")
# An image "bomb" (tiny file, huge declared size) is refused from its header, before the
# decoder allocates anything: 8192 per side and 40 megapixels at most.
MAX_SIDE = 8192
MAX_PIXELS = 40_000_000
# PIL's own bomb guard would answer with its own wording; this module checks the header itself.
Image.MAX_IMAGE_PIXELS = None


class ImageError(ValueError):
    """The bytes are not an image the service accepts; the message says why."""


def decode(data: bytes) -> np.ndarray:
    """JPEG/PNG bytes -> uint8 RGB array [H, W, 3]."""
    if not data:
        raise ImageError("image is empty (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ACCEPTED_FORMATS:
                raise ImageError(f"image format {image.format} is not accepted (JPEG or PNG)")
            width, height = image.size
            if width < 1 or height < 1:
                raise ImageError(f"image has no pixels ({width}x{height})")
            if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                raise ImageError(f"image is too large ({width}x{height}); at most {MAX_SIDE} per side "
                                 f"and {MAX_PIXELS} pixels")
            image.load()
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except ImageError:
        raise
    except Image.UnidentifiedImageError:
        raise ImageError(f"image is not a JPEG or PNG ({len(data)} bytes, starting {data[:8].hex()})") from None
    except Exception as error:  # PIL raises many types for corrupt data
        raise ImageError(f"image could not be decoded ({type(error).__name__}: {error})") from None


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB [H, W, 3] -> float32 BGR [224, 224, 3], mean-subtracted."""
    height, width, _ = rgb.shape
    scale = RESIZE_SHORTER_SIDE / min(height, width)
    out_h = max(RESIZE_SHORTER_SIDE, int(round(height * scale)))
    out_w = max(RESIZE_SHORTER_SIDE, int(round(width * scale)))
    top, left = (out_h - CROP) // 2, (out_w - CROP) // 2
    # Only the rows and columns the crop keeps are interpolated.
    rows0, rows1, row_w = _bilinear_taps(height, out_h, top, CROP)
    cols0, cols1, col_w = _bilinear_taps(width, out_w, left, CROP)
    # Gather the needed rows from the uint8 image before converting: float64 copies stay
    # 224 rows high whatever the image's size.
    vertical = (rgb[rows0].astype(np.float64) * (1.0 - row_w)[:, None, None]
                + rgb[rows1].astype(np.float64) * row_w[:, None, None])
    both = vertical[:, cols0] * (1.0 - col_w)[None, :, None] + vertical[:, cols1] * col_w[None, :, None]
    normalized = both.astype(np.float32) - MEANS_RGB
    return np.ascontiguousarray(normalized[:, :, ::-1])


def _bilinear_taps(in_size: int, out_size: int, start: int, count: int):
    positions = (np.arange(start, start + count, dtype=np.float64) + 0.5) * (in_size / out_size) - 0.5
    positions = np.clip(positions, 0.0, in_size - 1)
    lower = np.floor(positions).astype(np.int64)
    upper = np.minimum(lower + 1, in_size - 1)
    return lower, upper, positions - lower


def image_to_input(data: bytes) -> np.ndarray:
    """JPEG/PNG bytes -> the featurizer's input."""
    return preprocess(decode(data))
