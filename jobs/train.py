"""spark-submit entry point: train a model and register it as challenger.

    spark-submit jobs/train.py --model incident_risk --ds 2024-01-31 [--lake DIR] ...

Takes the same options as ``lakeops train``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from lakeops.cli import run_command


def main(argv: Sequence[str] | None = None) -> int:
    return run_command("train", argv)


if __name__ == "__main__":
    sys.exit(main())
