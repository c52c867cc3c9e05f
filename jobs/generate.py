"""spark-submit entry point for the synthetic data generator.

    spark-submit jobs/generate.py --start 2024-01-01 --end 2024-01-31 [--hosts N] [--lake DIR] ...

Takes the same options as ``lakeops generate``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from lakeops.cli import run_command


def main(argv: Sequence[str] | None = None) -> int:
    return run_command("generate", argv)


if __name__ == "__main__":
    sys.exit(main())
