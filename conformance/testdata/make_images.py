"""Draws the conformance test images in images/ (run from the repo root).

Small, deterministic pictures made by code, so they can be regenerated and carry no licence.
    /usr/bin/python3 conformance/testdata/make_images.py
"""
import pathlib

import numpy as np
from PIL import Image

OUT = pathlib.Path(__file__).resolve().parent / "images"


def gradient(w, h):
    x = np.linspace(0, 255, w)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h)[:, None].repeat(w, 1)
    return np.stack([x, y, 255 - x], -1).astype(np.uint8)


def checkerboard(w, h, cell=24):
    yy, xx = np.mgrid[0:h, 0:w]
    board = ((xx // cell + yy // cell) % 2).astype(np.uint8) * 200 + 30
    return np.stack([board, 255 - board, board // 2], -1)


def rings(w, h):
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(xx - w / 2, yy - h / 2)
    return np.stack([(np.sin(r / 6) * 127 + 128), (np.cos(r / 11) * 127 + 128), np.full_like(r, 90)], -1).astype(np.uint8)


def noise(w, h, seed):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    Image.fromarray(gradient(320, 240)).save(OUT / "gradient.jpg", quality=90)
    Image.fromarray(checkerboard(300, 300)).save(OUT / "checkerboard.png")
    Image.fromarray(rings(256, 384)).save(OUT / "rings.jpg", quality=85)
    Image.fromarray(noise(64, 48, 7)).save(OUT / "tiny-noise.png")
    # about 150 KB: the benchmark's and the conformance suite's "large" JPEG
    Image.fromarray(noise(400, 380, 11)).save(OUT / "large-150k.jpg", quality=92)
    (OUT / "corrupt.jpg").write_bytes((OUT / "gradient.jpg").read_bytes()[:600])
    # Every colour mode the service accepts (conformance/server/README.md, "Which images").
    Image.fromarray(gradient(256, 300)[:, :, 0]).save(OUT / "grey.png")
    wide = (rings(320, 256)[:, :, 0].astype(np.uint16) * 257) ^ np.uint16(0x00A5)  # low bytes matter not
    Image.fromarray(wide).save(OUT / "grey-16-bit.png")
    Image.fromarray(checkerboard(288, 260)).quantize(colors=16, dither=Image.Dither.NONE).save(OUT / "palette.png")
    rgba = np.dstack([gradient(300, 280), np.linspace(0, 255, 300 * 280).reshape(280, 300).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(OUT / "rgba.png")
    cmyk = np.dstack([rings(300, 260), gradient(300, 260)[:, :, :1]])
    Image.fromarray(cmyk, "CMYK").save(OUT / "cmyk.jpg", quality=90)
    first, second = Image.fromarray(checkerboard(320, 240)), Image.fromarray(gradient(320, 240))
    first.save(OUT / "multi-picture.mpo", format="MPO", save_all=True, append_images=[second], quality=90)


if __name__ == "__main__":
    main()
