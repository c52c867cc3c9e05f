"""spark-submit entry point: drift, profiles and performance of a day or a range.

    spark-submit jobs/monitor.py --model incident_risk --start 2024-01-25 --end 2024-01-31

Takes the same options as ``lakeops monitor``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from lakeops.cli import run_command


def main(argv: Sequence[str] | None = None) -> int:
    return run_command("monitor", argv)


if __name__ == "__main__":
    sys.exit(main())
