"""Writes golden.json: the emulator's exact scores for each test image (run from the repo
root after changing the network or the images):

    /usr/bin/python3 conformance/testdata/make_golden.py

For each image: the top-5 (class id, score) and the SHA-256 of the 1,000 float32 scores
(little-endian), so a test can demand the same bits on every run and machine, and a client
can check its top-k within a tolerance.
"""
import hashlib
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT / "python" / "src"), str(ROOT / "conformance" / "server" / "src")]

import numpy as np  # noqa: E402

from fpgascore_emulator.network import Classifier, Featurizer  # noqa: E402
from fpgascore_emulator.preprocess import image_to_input  # noqa: E402

IMAGES = ["gradient.jpg", "checkerboard.png", "rings.jpg", "tiny-noise.png", "large-150k.jpg",
          "grey.png", "grey-16-bit.png", "palette.png", "rgba.png", "cmyk.jpg", "multi-picture.mpo"]


def golden_entry(scores: np.ndarray) -> dict:
    order = np.argsort(-scores, kind="stable")[:5]
    return {
        "top5": [[int(i), float(scores[i])] for i in order],
        "sha256": hashlib.sha256(scores.astype("<f4").tobytes()).hexdigest(),
    }


def main() -> None:
    featurize, classify = Featurizer(), Classifier()
    golden = {}
    for name in IMAGES:
        features = featurize(image_to_input((HERE / "images" / name).read_bytes()))
        golden[name] = golden_entry(classify(features[None, :])[0])
    (HERE / "golden.json").write_text(json.dumps(golden, indent=2) + "\n")


if __name__ == "__main__":
    main()
