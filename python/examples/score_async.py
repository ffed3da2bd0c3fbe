"""Scores images concurrently with the asyncio client on one channel.

    ~/fpgascore-venv/bin/python python/examples/score_async.py --port 50051 a.jpg b.png
"""
import asyncio

from _common import client_options, parser

import fpgascore


async def run(args) -> None:
    async with fpgascore.AsyncPredictionClient(args.host, args.port, **client_options(args)) as client:
        results = await asyncio.gather(*(client.score_image(path) for path in args.images), return_exceptions=True)
    for path, result in zip(args.images, results):
        if isinstance(result, fpgascore.ScoringError):
            print(f"{path}: {result.code.name} {result.details}")
        else:
            print(f"{path}: {fpgascore.top_k(result, 1)[0].label}")


def main() -> None:
    p = parser(__doc__)
    p.add_argument("images", nargs="+")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
