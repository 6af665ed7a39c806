"""``python -m bench [name ...]``: run benchmarks and print their figures as JSON lines."""

from __future__ import annotations

import importlib
import json
import logging
import sys

BENCHES = (
    "dispatch",
    "planning",
    "replan",
    "pages",
    "amazon_rate",
    "activation",
    "lint_corpus",
    "ingest",
)


def main(argv: list[str]) -> int:
    logging.basicConfig(level="WARNING")
    names = argv or list(BENCHES)
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        figures = module.run()
        sys.stdout.write(json.dumps({"bench": name, **figures}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
