"""spark-submit entry point: build a model's feature table for a day or a range.

    spark-submit jobs/prepare.py --model incident_risk --ds 2024-01-31 [--lake DIR] ...

Takes the same options as ``lakeops prepare``; exit code 3 when the data-quality
gate fails (nothing written), 2 for a bad parameter.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from lakeops.cli import run_command


def main(argv: Sequence[str] | None = None) -> int:
    return run_command("prepare", argv)


if __name__ == "__main__":
    sys.exit(main())
