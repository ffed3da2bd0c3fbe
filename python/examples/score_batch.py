"""Scores several images in one call (score_images → [N, 1000]) and reports errors by type.

    ~/fpgascore-venv/bin/python python/examples/score_batch.py --port 50051 a.jpg b.png c.jpg
"""
import sys

from _common import client_options, parser

import fpgascore


def main() -> int:
    p = parser(__doc__)
    p.add_argument("images", nargs="+")
    args = p.parse_args()
    info = fpgascore.CallInfo()
    try:
        with fpgascore.PredictionClient(args.host, args.port, timeout=30, **client_options(args)) as client:
            scores = client.score_images(args.images, call_info=info)
    except fpgascore.InvalidInputError as error:
        print(f"rejected input: {error.details} (request-id {error.request_id or '-'})", file=sys.stderr)
        return 2
    except fpgascore.ScoringError as error:
        print(f"scoring failed: {error}", file=sys.stderr)
        return 1
    print(f"request-id {info.request_id}, {info.attempts} attempt(s)")
    for path, row in zip(args.images, scores):
        best = fpgascore.top_k(row, 1)[0]
        print(f"{path}: {best.label} ({best.score:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
