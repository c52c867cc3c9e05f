"""spark-submit entry point: the HTML report pages of monitored days.

    spark-submit jobs/report.py --model incident_risk --ds 2024-01-31

Takes the same options as ``lakeops report``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from lakeops.cli import run_command


def main(argv: Sequence[str] | None = None) -> int:
    return run_command("report", argv)


if __name__ == "__main__":
    sys.exit(main())
