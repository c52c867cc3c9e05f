"""Write conflicts between concurrent commits to one Delta table.

The embedded backend commits with delta-rs's ``create_write_transaction``, which
logs an overwrite as ``Write`` with no read predicate: delta-rs's conflict checker
then treats the files another writer added since our read version as nothing we
read, and only refuses two commits that remove the same file. Two overwrites of a
partition that held no files yet both pass, and the partition ends with both
writers' rows. So lakeops decides conflicts itself, from the log entries committed
after its read version, before each commit attempt; delta-rs, given no retries of
its own, then commits at the version right after the one checked or not at all
(``EmbeddedLake._commit``).

The rule is Delta's WriteSerializable isolation for a ``replaceWhere`` overwrite:

- an overwrite conflicts with any commit since its read version that added or
  removed a file inside the partitions it replaces (for an unpartitioned table:
  any file);
- an append is blind: it conflicts with nothing but a change of the table's
  schema or protocol, which conflicts with every write;
- a compaction (files added and removed with ``dataChange`` false, as delta-rs's
  ``optimize`` and delta-spark's ``OPTIMIZE`` log them) changes no row, so it conflicts
  with no write: the overwrite's removes are taken from the version it commits on,
  where the compacted files have replaced the small ones. (The other way round,
  the compaction's own commit fails when a writer removed files it rewrote.)

Reads the table's ``_delta_log/<version>.json`` commit entries; writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lakeops.lake.spec import PartitionSelection, TableSpec, parse_partition_string

if TYPE_CHECKING:
    from lakeops.lake.storage import Storage


def find_conflict(
    commits: Iterable[tuple[int, Sequence[Mapping[str, Any]]]],
    spec: TableSpec,
    selection: PartitionSelection | None,
) -> str | None:
    """Why a write may not commit after ``commits`` (version, actions), or ``None`` if it may.

    Args:
        commits: the log entries committed since the write's read version.
        selection: the partitions an overwrite replaces; ``None`` for an append.
    """
    for version, actions in commits:
        for action in actions:
            if "metaData" in action or "protocol" in action:
                return f"version {version} changed the table's schema or protocol"
            if selection is None:
                continue
            for kind, verb in (("add", "added"), ("remove", "removed")):
                file = action.get(kind)
                if file is None or file.get("dataChange") is False:
                    continue
                values = file.get("partitionValues") or {}
                typed = {c: parse_partition_string(spec, c, values.get(c)) for c in spec.partition_by}
                if selection.matches(typed):
                    where = "/".join(f"{c}={values.get(c)}" for c in spec.partition_by) or "the table"
                    return f"version {version} {verb} a file in {where}"
    return None


def read_commits(storage: Storage, table_uri: str, *, after: int, upto: int) -> list[tuple[int, list[dict[str, Any]]]]:
    """The actions of the log entries ``after < version <= upto``, oldest first.

    Raises:
        FileNotFoundError: an entry was cleaned up (after a checkpoint).
    """
    out = []
    for version in range(after + 1, upto + 1):
        text = storage.read_bytes(f"{table_uri}/_delta_log/{version:020d}.json").decode()
        out.append((version, [json.loads(line) for line in text.splitlines() if line.strip()]))
    return out
