"""A PNG writer written from the PNG specification (RFC 2083 / ISO 15948), independent of
PIL: the images the decoding tests feed the server are not made by the decoder under test."""
from __future__ import annotations

import struct
import zlib
from typing import Optional

import numpy as np

GREY, RGB, PALETTE, GREY_ALPHA, RGBA = 0, 2, 3, 4, 6
_CHANNELS = {GREY: 1, RGB: 3, PALETTE: 1, GREY_ALPHA: 2, RGBA: 4}


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _pack_row(row: np.ndarray, bit_depth: int) -> bytes:
    if bit_depth == 16:
        return row.astype(">u2").tobytes()
    if bit_depth == 8:
        return row.astype(np.uint8).tobytes()
    per_byte = 8 // bit_depth
    values = list(row.astype(np.uint8).ravel()) + [0] * (-row.size % per_byte)
    packed = bytearray()
    for start in range(0, len(values), per_byte):
        byte = 0
        for value in values[start:start + per_byte]:
            byte = (byte << bit_depth) | int(value)
        packed.append(byte)
    return bytes(packed)


def png(samples: np.ndarray, colour_type: int, bit_depth: int,
        palette: Optional[np.ndarray] = None, trns: Optional[bytes] = None) -> bytes:
    """``samples`` is [H, W] or [H, W, channels] of the colour type's sample values."""
    height, width = samples.shape[:2]
    flat = samples.reshape(height, width * _CHANNELS[colour_type])
    raw = b"".join(b"\x00" + _pack_row(flat[y], bit_depth) for y in range(height))  # filter 0: none
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0))
    if palette is not None:
        out += _chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    if trns is not None:
        out += _chunk(b"tRNS", trns)
    return out + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")
