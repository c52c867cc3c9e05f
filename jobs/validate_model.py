"""spark-submit entry point: the champion/challenger gate.

    spark-submit jobs/validate_model.py --model incident_risk --ds 2024-01-31 [--mode dry_run] ...

Takes the same options as ``lakeops validate-model``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from lakeops.cli import main as cli_main


def main(argv: Sequence[str] | None = None) -> int:
    return cli_main(["validate-model", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
