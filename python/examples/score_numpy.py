"""Scores preprocessed float images ([N,224,224,3]) with score_numpy_array.

    ~/fpgascore-venv/bin/python python/examples/score_numpy.py --port 50051 a.jpg
Preprocessing here is a plain resize to 224x224 and scaling to [0, 1] with Pillow.
"""
import numpy as np
from PIL import Image

from _common import client_options, parser

import fpgascore


def load(path: str) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB").resize((224, 224)), dtype=np.float32) / 255.0


def main() -> None:
    p = parser(__doc__)
    p.add_argument("images", nargs="+")
    args = p.parse_args()
    batch = np.stack([load(path) for path in args.images])  # [N, 224, 224, 3] float32
    with fpgascore.PredictionClient(args.host, args.port, **client_options(args)) as client:
        scores = client.score_numpy_array(batch)             # [N, 1000]
    for path, row in zip(args.images, scores):
        print(path, [(p.label, round(p.score, 3)) for p in fpgascore.top_k(row, 3)])


if __name__ == "__main__":
    main()
