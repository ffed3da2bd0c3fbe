"""Image bytes -> 8-bit RGB pixels, with what the header declares checked before any pixel
is decoded.

Accepted: JPEG (greyscale, RGB/YCbCr, CMYK and Adobe YCCK), multi-picture JPEG (MPO, what
many cameras write: its first picture is scored) and PNG of every colour type and bit depth.
Each is turned into RGB the way TensorFlow's ``decode_jpeg``/``decode_png(channels=3)`` do:
  * greyscale (1, 2, 4, 8 or 16 bits) is repeated into the three channels;
  * 16-bit samples keep their high byte (libpng's ``png_set_strip_16``);
  * palettes are looked up; alpha (an alpha channel or a tRNS chunk) is dropped, not composited;
  * CMYK is converted as R = (255 - C)(255 - K) / 255 and likewise for G and B.
Anything else (other formats, or a mode this table does not name) is refused, never guessed.
The whole picture is decoded: JPEG's reduced-scale ("draft") decoding would change the scores
of every large photo, so memory and CPU are bounded by budgets instead (see ``budget.py``).
"""
from __future__ import annotations

import dataclasses
import io
from typing import Any, Optional

import numpy as np
from PIL import Image

from .limits import bounded

# The format PIL reports -> the name the service uses.
ACCEPTED_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG"}
# An image "bomb" (tiny file, huge declared size) is refused from its header, before the
# decoder allocates anything: 8192 per side and 40 megapixels at most.
MAX_SIDE = 8192
MAX_PIXELS = 40_000_000
# PIL's own bomb guard would answer with its own wording; this module checks the header itself.
Image.MAX_IMAGE_PIXELS = None

# Modes PIL converts to RGB exactly as the module docstring says.
_CONVERTED_BY_PIL = frozenset({"1", "L", "LA", "P", "RGBA", "CMYK"})
# 16-bit greyscale PNG: PIL opens it as "I" (32-bit) or "I;16*", depending on its version.
_SIXTEEN_BIT_GREY = frozenset({"I", "I;16", "I;16B", "I;16L"})


class ImageError(ValueError):
    """The bytes are not an image the service accepts; the message says why."""


@dataclasses.dataclass(frozen=True)
class Header:
    format: str
    mode: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def read_header(data: bytes) -> Header:
    """What the image declares, read without decoding a pixel; ImageError if it is not
    accepted (empty, another format, an unsupported mode, no pixels, too large)."""
    with _opened(data) as image:
        return _checked_header(image)


def decode(data: bytes) -> np.ndarray[Any, Any]:
    """JPEG/PNG bytes -> uint8 RGB array [H, W, 3]."""
    with _opened(data) as image:
        header = _checked_header(image)
        try:
            image.load()
            return _to_rgb(image, header)
        except ImageError:
            raise
        except Exception as error:  # PIL raises many types for corrupt data
            raise ImageError(f"image could not be decoded ({type(error).__name__}: {bounded(str(error))})") from None


class _opened:
    """``Image.open`` whose failures are ImageErrors."""

    def __init__(self, data: bytes) -> None:
        if not data:
            raise ImageError("image is empty (0 bytes)")
        self._data = data
        self._image: Optional[Image.Image] = None

    def __enter__(self) -> Image.Image:
        try:
            self._image = image = Image.open(io.BytesIO(self._data))
        except Image.UnidentifiedImageError:  # type: ignore[attr-defined]  # Debian's PIL stubs lack it
            raise ImageError(f"image is not a JPEG or PNG ({len(self._data)} bytes, "
                             f"starting {self._data[:8].hex()})") from None
        except Exception as error:
            raise ImageError(f"image could not be decoded ({type(error).__name__}: {bounded(str(error))})") from None
        return image

    def __exit__(self, *exc: object) -> None:
        assert self._image is not None  # set by __enter__
        self._image.close()


def _checked_header(image: Image.Image) -> Header:
    service_format = ACCEPTED_FORMATS.get(image.format or "")
    if service_format is None:
        raise ImageError(f"image format {image.format} is not accepted (JPEG or PNG)")
    width, height = image.size
    header = Header(service_format, image.mode, width, height)
    if width < 1 or height < 1:
        raise ImageError(f"image has no pixels ({width}x{height})")
    if width > MAX_SIDE or height > MAX_SIDE or header.pixels > MAX_PIXELS:
        raise ImageError(f"image is too large ({width}x{height}); at most {MAX_SIDE} per side "
                         f"and {MAX_PIXELS} pixels")
    if image.mode != "RGB" and image.mode not in _CONVERTED_BY_PIL and image.mode not in _SIXTEEN_BIT_GREY:
        raise ImageError(f"image mode {image.mode} of this {service_format} is not supported "
                         f"(greyscale, palette, RGB, RGBA or CMYK)")
    return header


def _to_rgb(image: Image.Image, header: Header) -> np.ndarray[Any, Any]:
    if header.mode == "RGB":
        return rgb_pixels(image)
    if header.mode in _SIXTEEN_BIT_GREY:
        samples = np.asarray(image)
        if samples.size and (int(samples.min()) < 0 or int(samples.max()) > 0xFFFF):
            raise ImageError(f"image mode {header.mode} holds values outside 16 bits")
        grey = (samples.astype(np.uint32) >> 8).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    image.info.pop("transparency", None)  # alpha is dropped; PIL would warn about a palette's
    return rgb_pixels(image.convert("RGB"))


def rgb_pixels(image: Image.Image) -> np.ndarray[Any, Any]:
    """A loaded RGB image's pixels as uint8 [H, W, 3], packed in one pass.

    ``np.asarray(image)`` goes through ``tobytes()``, which packs PIL's 4-byte pixels in 64 KiB
    pieces and joins them: a second copy and a Python loop, ~15 % of the decode's CPU for the
    150 KB test JPEG. PIL's raw encoder packs the whole image into one buffer at once here; where
    it does not finish in one call (another PIL), the pixels come the public way."""
    width, height = image.size
    size = width * height * 3
    try:
        encoder = Image._getencoder("RGB", "raw", ("RGB", 0, 1))  # type: ignore[attr-defined]
        encoder.setimage(image.im)
        _, status, data = encoder.encode(size + 1)
    except Exception:  # a PIL without this encoder interface
        status = 0
    if status != 1 or len(data) != size:
        return np.asarray(image)
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
