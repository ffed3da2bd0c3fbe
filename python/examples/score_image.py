"""Scores one image and prints the top-5 classes: the service documentation's snippet.

    FPGASCORE_KEY=... ~/fpgascore-venv/bin/python python/examples/score_image.py --host H --port P --ssl cat.jpg
"""
from _common import client_options, parser

from fpgascore import PredictionClient, top_k


def main() -> None:
    p = parser(__doc__)
    p.add_argument("image")
    args = p.parse_args()
    with PredictionClient(args.host, args.port, **client_options(args)) as client:
        results = client.score_image(args.image)  # ndarray [1000]
    for prediction in top_k(results, 5):
        print(f"{prediction.score:.4f}  {prediction.class_id:4d}  {prediction.label}")


if __name__ == "__main__":
    main()
