"""Where a lakehouse lives, and how each reader reaches it: a local folder or an object-store prefix.

:class:`Storage` turns a lake root (``/data/lake``, ``s3://bucket/lake`` or
``s3a://bucket/lake``) into the three addresses lakeops' readers need: the URI
delta-rs opens (with its storage options), the URI Spark opens (``file:`` or
``s3a://``, through hadoop-aws), and a pyarrow file system plus path for the
tasks that read row groups and write Parquet themselves. Table names are proven
to stay under the root before any address is built. Credentials come from the
environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
``AWS_REGION``, ``AWS_ENDPOINT_URL``) and live only in the storage options and
file system objects: :meth:`Storage.describe` and ``repr`` never show them.
Reads and writes no tables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from lakeops.constants import OBJECT_SCHEMES
from lakeops.errors import InvalidParameterError
from lakeops.names import TableName, path_under

if TYPE_CHECKING:
    import pyarrow.fs as pafs

#: delta-rs storage options read from the environment, and the variables they come from.
_ENV_OPTIONS = {
    "AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY": "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN": "AWS_SESSION_TOKEN",
    "AWS_REGION": "AWS_REGION",
    "AWS_ENDPOINT_URL": "AWS_ENDPOINT_URL",
}


def is_object_store(root: str | Path) -> bool:
    return str(root).startswith(OBJECT_SCHEMES)


@dataclass(frozen=True)
class Storage:
    """A lake root and how to reach it. Build with :func:`storage_for`."""

    root: str  # an absolute local path, or s3://bucket/prefix (no trailing slash)
    options: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def local(self) -> bool:
        return not self.root.startswith("s3://")

    def describe(self) -> str:
        """The root as logs and messages show it (never credentials)."""
        return self.root

    # ------------------------------------------------------------------ addresses of a table

    def table_uri(self, name: str | TableName) -> str:
        """The table's URI for delta-rs (a local path, or ``s3://...``)."""
        ref = name if isinstance(name, TableName) else TableName.parse(name)
        if self.local:
            return str(path_under(Path(self.root), ref.schema, ref.table))
        return f"{self.root}/{ref.schema}/{ref.table}"

    def spark_uri(self, uri: str) -> str:
        """A delta-rs URI (from :meth:`table_uri`, or under it) as Spark/Hadoop opens it."""
        if uri.startswith("s3://"):
            return "s3a://" + uri[len("s3://"):]
        return "file:" + Path(uri).as_posix()

    def fs_path(self, uri: str) -> str:
        """A delta-rs URI as a path of :attr:`filesystem`."""
        return uri[len("s3://"):] if uri.startswith("s3://") else uri

    def read_bytes(self, uri: str) -> bytes:
        """A whole (small) file, e.g. a commit entry of a ``_delta_log``.

        Raises:
            FileNotFoundError: no such file.
        """
        with self.filesystem.open_input_stream(self.fs_path(uri)) as f:
            return f.read()

    def list_names(self, uri: str) -> list[str]:
        """The names of the entries directly under a folder (a prefix); none if it is gone."""
        import pyarrow.fs as pafs

        infos = self.filesystem.get_file_info(pafs.FileSelector(self.fs_path(uri), allow_not_found=True))
        return [info.base_name for info in infos]

    def is_dir(self, uri: str) -> bool:
        import pyarrow.fs as pafs

        return self.filesystem.get_file_info(self.fs_path(uri)).type == pafs.FileType.Directory

    @property
    def arrow_fs(self) -> pafs.FileSystem | None:
        """The file system pyarrow calls take: ``None`` for a local lake (plain paths are fastest)."""
        return None if self.local else self.filesystem

    def remove_tree(self, uri: str) -> None:
        """Delete a folder (a prefix) and everything under it; nothing if it is gone."""
        import shutil

        if self.local:
            shutil.rmtree(uri, ignore_errors=True)
            return
        try:
            self.filesystem.delete_dir(self.fs_path(uri))
        except FileNotFoundError:
            pass

    def hadoop_conf(self) -> dict[str, str]:
        """Hadoop settings for Spark's s3a file system (endpoint, addressing); none for a local lake.

        No credentials: s3a's default chain reads ``AWS_ACCESS_KEY_ID`` and
        ``AWS_SECRET_ACCESS_KEY`` from each JVM's own environment, so they never sit in
        Spark's configuration (which jobs log and UIs show).
        """
        if self.local:
            return {}
        conf = {
            "fs.s3a.endpoint.region": self.options.get("AWS_REGION", "us-east-1"),
            # Upload blocks buffer in memory: s3a's disk buffers need Hadoop's checksummed local
            # file system, which lakeops' sessions replace with the raw one (no .crc files).
            "fs.s3a.fast.upload.buffer": "bytebuffer",
        }
        endpoint = self.options.get("AWS_ENDPOINT_URL")
        if endpoint:
            # An S3-compatible store on its own host: path-style addressing, plain HTTP if it says so.
            conf.update({"fs.s3a.endpoint": endpoint, "fs.s3a.path.style.access": "true",
                         "fs.s3a.connection.ssl.enabled": str(endpoint.startswith("https://")).lower()})
        return conf

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Write a whole (small) side file: a report page, a quality document."""
        if self.local:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
            Path(uri).write_bytes(data)
            return
        with self.filesystem.open_output_stream(self.fs_path(uri)) as f:
            f.write(data)

    def join(self, *parts: str) -> str:
        """A side path under the root (``reports/<model>``), proven to stay under it."""
        if self.local:
            return str(path_under(Path(self.root), *parts))
        for part in parts:
            if not part or part in (".", "..") or "/" in part:
                raise InvalidParameterError(f"invalid path part {part!r} under {self.root}")
        return "/".join([self.root, *parts])

    @property
    def delta_options(self) -> dict[str, str] | None:
        """Storage options for delta-rs (``None`` for a local lake)."""
        return dict(self.options) if not self.local else None

    @cached_property
    def filesystem(self) -> pafs.FileSystem:
        """A pyarrow file system for the root: local, or S3 with the same credentials and endpoint."""
        import pyarrow.fs as pafs

        if self.local:
            return pafs.LocalFileSystem()
        opts = self.options
        endpoint = opts.get("AWS_ENDPOINT_URL", "")
        scheme, _, host = endpoint.partition("://") if "://" in endpoint else ("https", "", endpoint)
        keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        explicit = all(opts.get(k) for k in keys)  # else the AWS SDK's own chain (profiles, instance roles)
        return pafs.S3FileSystem(
            access_key=opts["AWS_ACCESS_KEY_ID"] if explicit else None,
            secret_key=opts["AWS_SECRET_ACCESS_KEY"] if explicit else None,
            session_token=opts.get("AWS_SESSION_TOKEN") if explicit else None,
            region=opts.get("AWS_REGION", "us-east-1"),
            endpoint_override=host or None,
            scheme=scheme,
            # The same limits delta-rs gets from the storage options (object_store's names).
            connect_timeout=_seconds(opts.get("connect_timeout", "5s")),
            request_timeout=_seconds(opts.get("timeout", "30s")),
            retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1 + int(opts.get("max_retries", "3"))),
        )

    def __reduce__(self):  # the cached file system is rebuilt where it is unpickled
        return (Storage, (self.root, dict(self.options)))


def storage_for(root: str | Path, *, options: Mapping[str, str] | None = None) -> Storage:
    """The :class:`Storage` of a lake root.

    ``s3a://`` is accepted as a spelling of ``s3://`` (Spark's). For object stores,
    options not given come from the environment; ``AWS_ALLOW_HTTP`` is set for an
    ``http://`` endpoint (a store on the local network).

    Raises:
        InvalidParameterError: an object-store root without a bucket, or with ``..``.
    """
    text = str(root)
    if not is_object_store(text):
        return Storage(str(Path(text).expanduser().resolve()))
    rest = text.split("://", 1)[1].strip("/")
    bucket = rest.split("/", 1)[0]
    if not bucket or any(part in ("", ".", "..") for part in rest.split("/")):
        raise InvalidParameterError(f"invalid lake root {text!r}: expected s3://<bucket>[/<prefix>]")
    merged = {key: os.environ[env] for key, env in _ENV_OPTIONS.items() if os.environ.get(env)}
    merged.update(options or {})
    if merged.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        merged.setdefault("AWS_ALLOW_HTTP", "true")
    merged.setdefault("AWS_REGION", "us-east-1")
    # S3 has no atomic rename: delta-rs commits each log entry with a conditional PUT
    # (If-None-Match), so of two writers of one version exactly one wins (S3 has honoured
    # it since 2024; MinIO and R2 do too). No lock table (DynamoDB) is needed.
    merged.setdefault("aws_conditional_put", "etag")
    return Storage(f"s3://{rest}", merged)


def _seconds(text: str) -> float:
    """object_store's durations (``5s``, ``500ms``, ``2min``) in seconds."""
    import re

    match = re.fullmatch(r"\s*([0-9.]+)\s*(ms|s|min|m|h)?\s*", str(text))
    if not match:
        raise InvalidParameterError(f"invalid duration {text!r} in lake.storage_options: expected e.g. 5s or 500ms")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value * {"ms": 0.001, "s": 1, "min": 60, "m": 60, "h": 3600}[unit]
