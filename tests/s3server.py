"""A real S3-compatible server on 127.0.0.1 for tests: moto in server mode, in a subprocess.

moto's server (``moto[server]``) is a real HTTP server speaking the S3 (and DynamoDB, STS ...)
wire protocol; delta-rs (object_store), pyarrow (AWS SDK for C++), Spark's s3a (AWS SDK for Java
v2) and boto3 all talk to it over TCP exactly as they would to AWS. Nothing is patched in the
test process.

Usage::

    from s3server import s3_server

    with s3_server() as s3:
        write_deltalake(f"s3://{s3.bucket}/lake/t", df, storage_options=s3.storage_options())
        spark = builder.config(map=s3.spark_conf()).getOrCreate()
        s3.stop()      # outage: connections are refused (the data is kept, see below)
        s3.start()     # back on the same port, with the same objects
        s3.pause()     # hang instead: the port accepts connections but never answers
        s3.resume()

The subprocess is ``python tests/s3server.py --serve --port N``: moto's WSGI app behind a lock
that serialises mutating requests (PUT/POST/DELETE). moto checks ``If-None-Match: *`` and then
stores the object in two separate steps, on a threaded server; without the lock two concurrent
conditional PUTs of one key could both succeed, which real S3 never allows (one gets 412).

moto keeps everything in memory, so a killed server loses its data. ``stop()`` therefore first
copies every object of every bucket out through the S3 API (boto3), and ``start()`` puts them
back (ETags of multipart objects and Last-Modified times change; keys, bytes and metadata
stay). ``stop(keep=False)`` or ``kill()`` drops the data like a real crash of a
non-persistent store would.

Set ``S3SERVER_LOG=/path/file`` (or pass ``log_path=``) to get one line per request from the
server: method, path, the If-None-Match / If-Match headers, status.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ACCESS_KEY = "testing"
SECRET_KEY = "lakeops-s3-secret-4f1c9a"  # distinctive: tests search for it in what lakeops wrote
REGION = "us-east-1"
DEFAULT_BUCKET = "lakeops-test"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    """One moto server subprocess on 127.0.0.1:``port`` with one bucket."""

    def __init__(
        self,
        *,
        port: int | None = None,
        bucket: str = DEFAULT_BUCKET,
        log_path: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
        ignore_conditional: bool = False,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.bucket = bucket
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self.region = REGION
        self.log_path = str(log_path) if log_path else os.environ.get("S3SERVER_LOG")
        self.startup_timeout = startup_timeout
        #: A broken store for negative tests: drop If-None-Match / If-Match before moto sees them.
        self.ignore_conditional = ignore_conditional
        self._proc: subprocess.Popen[bytes] | None = None
        self._paused = False
        self._snapshot: dict[str, list[tuple[str, bytes, dict[str, Any]]]] | None = None

    # -- addresses and client settings -------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def uri(self, path: str = "", scheme: str = "s3") -> str:
        """``s3://BUCKET/path`` (``scheme="s3a"`` for Spark)."""
        return f"{scheme}://{self.bucket}/{path.lstrip('/')}"

    def storage_options(self, *, fail_fast: bool = False, **extra: str) -> dict[str, str]:
        """delta-rs ``storage_options``.

        Commits are safe for concurrent writers without DynamoDB: delta-rs 1.x writes each
        ``_delta_log/NNN.json`` with a put-if-absent (``If-None-Match: *``), which this server
        (like AWS S3 since 2024-08, MinIO, R2) honours. ``aws_conditional_put=etag`` states it
        explicitly (it is also object_store's default for S3).

        ``fail_fast`` shortens object_store's retry and timeouts so an outage fails in
        seconds. Defaults: max_retries 10, retry_timeout 3 min, request timeout 30 s, connect
        timeout 5 s: a refused connection fails in ~2 s anyway, a server that accepts and
        never answers takes minutes.
        """
        opts = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_ALLOW_HTTP": "true",
            "aws_conditional_put": "etag",
        }
        if fail_fast:
            opts.update(FAIL_FAST_DELTA_RS)
        opts.update(extra)
        return opts

    def spark_conf(self, *, fail_fast: bool = False) -> dict[str, str]:
        """``spark.hadoop.fs.s3a.*`` settings for hadoop-aws 3.4 (AWS SDK v2) against this server."""
        conf = {
            "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
            "spark.hadoop.fs.s3a.endpoint": self.endpoint,
            "spark.hadoop.fs.s3a.endpoint.region": self.region,
            "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
            "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
            "spark.hadoop.fs.s3a.access.key": self.access_key,
            "spark.hadoop.fs.s3a.secret.key": self.secret_key,
            # No bucket probe at FS init; no checksum validation of GET responses.
            "spark.hadoop.fs.s3a.bucket.probe": "0",
            "spark.hadoop.fs.s3a.checksum.validation": "false",
            # s3:// URIs typed into Spark go through S3A too.
            "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        }
        if fail_fast:
            conf.update(FAIL_FAST_S3A)
        return conf

    def pyarrow_fs(self, *, fail_fast: bool = False, **kwargs: Any) -> Any:
        """A ``pyarrow.fs.S3FileSystem`` on this server (paths are ``BUCKET/key``).

        ``fail_fast``: connect_timeout=2, request_timeout=5, one attempt (no retry).
        """
        from pyarrow import fs

        args: dict[str, Any] = dict(
            endpoint_override=f"{self.host}:{self.port}",
            scheme="http",
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            allow_bucket_creation=True,
            allow_bucket_deletion=True,
        )
        if fail_fast:
            args.update(pyarrow_fail_fast())
        args.update(kwargs)
        return fs.S3FileSystem(**args)

    def boto3_client(self, service: str = "s3", **kwargs: Any) -> Any:
        import boto3
        from botocore.config import Config

        cfg = kwargs.pop("config", None) or Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10)
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=cfg,
            **kwargs,
        )

    def env(self) -> dict[str, str]:
        """Environment variables for a child process (boto3, MLflow, delta-rs read them)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ALLOW_HTTP": "true",
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint,
        }

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> S3Server:
        """Start (or restart, on the same port) the server; create the bucket; restore a snapshot."""
        if self.running:
            return self
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", "--port", str(self.port)]
        if self.log_path:
            cmd += ["--log", self.log_path]
        if self.ignore_conditional:
            cmd += ["--ignore-conditional"]
        env = dict(os.environ)
        env.setdefault("AWS_ACCESS_KEY_ID", self.access_key)
        env.setdefault("AWS_SECRET_ACCESS_KEY", self.secret_key)
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # a Ctrl-C in the terminal goes to the test run, not here
        )
        self._paused = False
        self._wait_ready()
        client = self.boto3_client()
        buckets = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if self.bucket not in buckets:
            client.create_bucket(Bucket=self.bucket)
        if self._snapshot is not None:
            self._restore(client, self._snapshot)
            self._snapshot = None
        return self

    def stop(self, *, keep: bool = True, timeout: float = 10.0) -> None:
        """Stop the server: further requests get 'connection refused'.

        ``keep`` (default) snapshots all objects first, so :meth:`start` brings them back.
        """
        if not self.running:
            return
        if self._paused:
            self.resume()
        if keep:
            self._snapshot = self._dump(self.boto3_client())
        self._terminate(timeout)

    def kill(self) -> None:
        """SIGKILL, no snapshot: the data is gone (a restart serves an empty bucket)."""
        self._snapshot = None
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                if self._paused:
                    os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
                proc.wait()
            if proc.stderr:
                proc.stderr.close()
        self._paused = False

    def pause(self) -> None:
        """SIGSTOP the server: connects still succeed (kernel backlog) but nothing answers."""
        if self.running and not self._paused:
            os.kill(self._proc.pid, signal.SIGSTOP)  # type: ignore[union-attr]
            self._paused = True

    def resume(self) -> None:
        if self._proc is not None and self._paused:
            os.kill(self._proc.pid, signal.SIGCONT)
            self._paused = False

    def close(self) -> None:
        """Stop for good (no snapshot)."""
        if self._paused:
            self.resume()
        self._snapshot = None
        self._terminate(10.0)

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    def _terminate(self, timeout: float) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is not None:
            if proc.stderr:
                proc.stderr.close()
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        url = f"{self.endpoint}/moto-api/"
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise RuntimeError(f"S3 server exited with {self._proc.returncode} at start:\n{err[-4000:]}")
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    r.read()
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"S3 server on {self.endpoint} did not answer within {self.startup_timeout}s") from None
                time.sleep(0.1)
        # The server's stderr pipe must keep draining, or a chatty server blocks on write.
        if self._proc is not None and self._proc.stderr is not None:
            threading.Thread(target=_drain, args=(self._proc.stderr,), daemon=True).start()

    @staticmethod
    def _dump(client: Any) -> dict[str, list[tuple[str, bytes, dict[str, Any]]]]:
        snap: dict[str, list[tuple[str, bytes, dict[str, Any]]]] = {}
        for b in client.list_buckets().get("Buckets", []):
            name = b["Name"]
            objs: list[tuple[str, bytes, dict[str, Any]]] = []
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
                for o in page.get("Contents", []):
                    r = client.get_object(Bucket=name, Key=o["Key"])
                    meta = {"Metadata": r.get("Metadata", {})}
                    if r.get("ContentType"):
                        meta["ContentType"] = r["ContentType"]
                    objs.append((o["Key"], r["Body"].read(), meta))
            snap[name] = objs
        return snap

    @staticmethod
    def _restore(client: Any, snap: dict[str, list[tuple[str, bytes, dict[str, Any]]]]) -> None:
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        for name, objs in snap.items():
            if name not in existing:
                client.create_bucket(Bucket=name)
            for key, body, meta in objs:
                client.put_object(Bucket=name, Key=key, Body=body, **meta)


def _drain(stream: Any) -> None:
    with contextlib.suppress(Exception):
        for _ in iter(lambda: stream.read(65536), b""):
            pass


@contextlib.contextmanager
def s3_server(**kwargs: Any) -> Iterator[S3Server]:
    """Start a server (see :class:`S3Server` for the arguments), yield it, stop it."""
    server = S3Server(**kwargs)
    try:
        yield server.start()
    finally:
        server.close()


#: delta-rs / object_store options that make an unreachable server fail within seconds.
#: ``max_retries``/``retry_timeout``/``backoff_config.*`` are delta-rs' RetryConfig keys;
#: ``connect_timeout``/``timeout`` are object_store client options (humantime durations).
FAIL_FAST_DELTA_RS = {
    "max_retries": "1",
    "retry_timeout": "3s",
    "backoff_config.init_backoff": "100ms",
    "backoff_config.max_backoff": "500ms",
    "connect_timeout": "2s",
    "timeout": "5s",
}


#: hadoop-aws 3.4 (s3a) settings with the same aim; times take units (SDK v2 era).
FAIL_FAST_S3A = {
    "spark.hadoop.fs.s3a.attempts.maximum": "1",
    "spark.hadoop.fs.s3a.retry.limit": "1",
    "spark.hadoop.fs.s3a.retry.interval": "100ms",
    "spark.hadoop.fs.s3a.retry.throttle.limit": "1",
    "spark.hadoop.fs.s3a.connection.establish.timeout": "2s",
    "spark.hadoop.fs.s3a.connection.timeout": "5s",
    "spark.hadoop.fs.s3a.connection.request.timeout": "5s",
}


def pyarrow_fail_fast() -> dict[str, Any]:
    """pyarrow.fs.S3FileSystem keyword arguments with the same aim (seconds; one attempt)."""
    from pyarrow import fs

    return {"connect_timeout": 2.0, "request_timeout": 5.0, "retry_strategy": fs.AwsStandardS3RetryStrategy(max_attempts=1)}


# -- the subprocess -------------------------------------------------------------------------


def _serve(port: int, log: str | None, ignore_conditional: bool = False) -> None:
    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    app = DomainDispatcherApplication(create_backend_app)
    write_lock = threading.Lock()
    log_file = open(log, "a", buffering=1) if log else None

    def serialised(environ: dict[str, Any], start_response: Any) -> Any:
        method = environ.get("REQUEST_METHOD", "GET")
        status: list[str] = []

        def sr(st: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(st)
            return start_response(st, headers, exc_info) if exc_info else start_response(st, headers)

        if ignore_conditional:
            environ.pop("HTTP_IF_NONE_MATCH", None)
            environ.pop("HTTP_IF_MATCH", None)
        if method in ("PUT", "POST", "DELETE"):
            with write_lock:
                body = list(app(environ, sr))
        else:
            body = app(environ, sr)
        if log_file is not None:
            log_file.write(
                f"{time.time():.3f} {method} {environ.get('PATH_INFO', '')}"
                f"{'?' + environ['QUERY_STRING'] if environ.get('QUERY_STRING') else ''}"
                f" inm={environ.get('HTTP_IF_NONE_MATCH', '-')} im={environ.get('HTTP_IF_MATCH', '-')}"
                f" -> {status[0] if status else '?'}\n"
            )
        return body

    def on_term(signum: int, frame: Any) -> None:
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    os.environ.setdefault("MOTO_PORT", str(port))
    run_simple("127.0.0.1", port, serialised, threaded=True, use_reloader=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Run the tests' S3 server (moto) in the foreground.")
    parser.add_argument("--serve", action="store_true", help="serve (the only mode)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", default=None, help="append one line per request to this file")
    parser.add_argument("--ignore-conditional", action="store_true", help="drop If-None-Match/If-Match (a broken store)")
    args = parser.parse_args()
    _serve(args.port or free_port(), args.log, args.ignore_conditional)
