"""spark-submit entry point: the champion/challenger gate.

    spark-submit jobs/validate_model.py --model incident_risk --ds 2024-01-31 [--mode dry_run] ...

Takes the same options as ``lakeops validate-model``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from lakeops.cli import run_command


def main(argv: Sequence[str] | None = None) -> int:
    return run_command("validate-model", argv)


if __name__ == "__main__":
    sys.exit(main())
