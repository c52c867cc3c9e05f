"""spark-submit entry point: maintenance of every table of the lakehouse.

    spark-submit jobs/maintain.py --ds 2024-02-04 [--dry-run]

Takes the same options as ``lakeops maintain``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from lakeops.cli import run_command


def main(argv: Sequence[str] | None = None) -> int:
    return run_command("maintain", argv)


if __name__ == "__main__":
    sys.exit(main())
