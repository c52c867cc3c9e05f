"""Exceptions a user can act on.

Every error the CLI reports as a one-line message (and a non-zero exit code)
derives from :class:`LakeopsError`; anything else is a bug and keeps its traceback.
Exit codes: 2 for a bad argument or config (:class:`InvalidParameterError`,
:class:`ConfigError`), 3 for refused data (:class:`DataRefusedError`: a retry
cannot help), 1 for anything else (possibly transient: worth a retry).
"""

from __future__ import annotations


class LakeopsError(Exception):
    """Base class: the message says what went wrong and what to do about it."""


class ConfigError(LakeopsError):
    """A config file, key or override is invalid; the message names the file and key."""


class InvalidParameterError(LakeopsError, ValueError):
    """A name, date or path parameter was rejected before anything ran."""


class EnvironmentProblem(LakeopsError):
    """Something the machine must provide is missing (Java, a package)."""


class TableNotFoundError(LakeopsError):
    """The table does not exist in the lakehouse."""


class DataRefusedError(LakeopsError):
    """The data itself was refused (quality gate, schema, partitions): running again will not help.

    The CLI exits with 3 for these, so a scheduler retries other failures but not these.
    """


class SchemaMismatchError(DataRefusedError):
    """Data does not match a table's declared schema; nothing was committed."""


class PartitionViolationError(DataRefusedError):
    """Rows fall outside the partitions being overwritten; nothing was committed."""


class EmptyWriteError(DataRefusedError):
    """A write produced no rows; the existing partitions were left untouched."""


class QualityGateError(DataRefusedError):
    """A ``fail`` expectation of a data-quality suite failed; nothing downstream was written."""


class UnsupportedTableError(LakeopsError):
    """The table uses a Delta feature this backend cannot read or write."""


class MissingInputError(LakeopsError):
    """Input partitions a job needs are not there yet; nothing was written."""


class CommitConflictError(LakeopsError):
    """Another writer committed to the same partitions first; nothing of this write was committed.

    Worth a retry (exit code 1): the rerun starts from the winner's commit.
    """


class StorageUnavailableError(LakeopsError):
    """The lakehouse's storage (an object store) could not be reached; nothing was committed.

    Worth a retry (exit code 1) once it is back: a write either committed whole or not at all.
    """
