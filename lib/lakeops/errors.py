"""Exceptions a user can act on.

Every error the CLI reports as a one-line message (and a non-zero exit code)
derives from :class:`LakeopsError`; anything else is a bug and keeps its traceback.
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


class SchemaMismatchError(LakeopsError):
    """Data does not match a table's declared schema; nothing was committed."""


class PartitionViolationError(LakeopsError):
    """Rows fall outside the partitions being overwritten; nothing was committed."""


class EmptyWriteError(LakeopsError):
    """A write produced no rows; the existing partitions were left untouched."""


class UnsupportedTableError(LakeopsError):
    """The table uses a Delta feature this backend cannot read or write."""


class MissingInputError(LakeopsError):
    """Input partitions a job needs are not there yet; nothing was written."""
