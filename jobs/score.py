"""spark-submit entry point: batch scoring and backfills.

    spark-submit jobs/score.py --model incident_risk --start 2024-01-25 --end 2024-01-31 [--force] ...

Takes the same options as ``lakeops score``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from lakeops.cli import run_command


def main(argv: Sequence[str] | None = None) -> int:
    return run_command("score", argv)


if __name__ == "__main__":
    sys.exit(main())
