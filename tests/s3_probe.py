"""Probe: delta-rs, pyarrow, Spark (s3a + delta-spark) and MLflow against a real local S3 server.

Run: ``.venv/bin/python tests/s3_probe.py [--skip-spark] [--skip-mlflow]``. Prints one
``PASS``/``FAIL``/``INFO`` line per check and exits non-zero if any check failed. Starts its
own moto server(s) (tests/s3server.py) on 127.0.0.1 and stops them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow as pa
import pyarrow.parquet as pq
from s3server import S3Server

FAILED: list[str] = []


def check(name: str, fn: Callable[[], str | None]) -> None:
    t0 = time.monotonic()
    try:
        detail = fn() or ""
        print(f"PASS {name} ({time.monotonic() - t0:.1f}s) {detail}", flush=True)
    except Exception as e:
        FAILED.append(name)
        print(f"FAIL {name} ({time.monotonic() - t0:.1f}s) {type(e).__name__}: {str(e)[:600]}", flush=True)
        if os.environ.get("PROBE_TRACEBACK"):
            traceback.print_exc()


def info(msg: str) -> None:
    print(f"INFO {msg}", flush=True)


SCHEMA = pa.schema([("ds", pa.string()), ("id", pa.int64()), ("tag", pa.string()), ("v", pa.float64())])


def events(day: str, n: int, tag: str = "") -> pa.Table:
    return pa.table({"ds": [day] * n, "id": list(range(n)), "tag": [tag] * n, "v": [float(i) for i in range(n)]}, schema=SCHEMA)


def short(e: BaseException, limit: int = 300) -> str:
    """An exception as one line: delta-rs chains its causes over indented, coloured lines."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).replace("↳", "<-")
    return f"{type(e).__name__}: " + " ".join(text.split())[:limit]


def log_lines(path: str, needle: str) -> list[str]:
    with open(path) as f:
        return [ln for ln in f if needle in ln]


# ----------------------------------------------------------------------------------- a. delta-rs


def probe_delta_rs(s3: S3Server, log: str) -> None:
    from deltalake import DeltaTable, write_deltalake

    uri = s3.uri("lake/test/events")
    opts = s3.storage_options()

    def create_append_read() -> str:
        DeltaTable.create(uri, schema=SCHEMA, partition_by=["ds"], storage_options=opts)
        write_deltalake(uri, events("2024-01-01", 5), mode="append", storage_options=opts)
        write_deltalake(uri, events("2024-01-02", 3), mode="append", storage_options=opts)
        dt = DeltaTable(uri, storage_options=opts)
        n = dt.to_pyarrow_table().num_rows
        assert dt.version() == 2 and n == 8, (dt.version(), n)
        parts = sorted({p["ds"] for p in dt.partitions()})
        assert parts == ["2024-01-01", "2024-01-02"], parts
        one = dt.to_pyarrow_table(filters=[("ds", "=", "2024-01-02")]).num_rows
        assert one == 3, one
        commits = [ln for ln in log_lines(log, "/lake/test/events/_delta_log/0") if " PUT " in ln]
        assert commits and all("inm=*" in ln for ln in commits), commits
        return f"version={dt.version()} rows={n} partitions={parts}; every _delta_log PUT carried If-None-Match: *"

    check("a1 delta-rs create/append/read partitioned table at s3://", create_append_read)

    def default_options_conditional() -> str:
        base = {k: v for k, v in opts.items() if k != "aws_conditional_put"}
        u = s3.uri("lake/test/defaults")
        write_deltalake(u, events("2024-01-01", 2), partition_by=["ds"], storage_options=base)
        write_deltalake(u, events("2024-01-01", 2), mode="append", storage_options=base)
        puts = [ln for ln in log_lines(log, "/lake/test/defaults/_delta_log/0") if " PUT " in ln]
        assert len(puts) == 2 and all("inm=*" in ln for ln in puts), puts
        return "without aws_conditional_put delta-rs 1.x still commits with If-None-Match: * (object_store default)"

    check("a2 delta-rs default options already use put-if-absent", default_options_conditional)

    def disabled_fails() -> str:
        u = s3.uri("lake/test/disabled")
        try:
            write_deltalake(u, events("2024-01-01", 1), storage_options={**opts, "aws_conditional_put": "disabled"})
        except Exception as e:
            return f"aws_conditional_put=disabled -> {short(e, 160)}"
        raise AssertionError("commit succeeded without conditional put")

    check("a3 delta-rs refuses to commit with conditional put disabled", disabled_fails)

    def concurrent(ignore_conditional: bool) -> tuple[int, int, int, int]:
        """Two writer processes, N appends each, same table. Returns (expected, versions, rows, 412s)."""
        n = 8
        with tempfile.TemporaryDirectory() as tmp:
            srv_log = os.path.join(tmp, "s3.log")
            with S3Server(log_path=srv_log, ignore_conditional=ignore_conditional) as srv:
                u = srv.uri("lake/test/concurrent")
                o = srv.storage_options()
                write_deltalake(u, events("2024-01-01", 1, "init"), partition_by=["ds"], storage_options=o)
                start_at = time.time() + 2.0
                env = {**os.environ, "PROBE_OPTS": json.dumps(o)}
                procs = [
                    subprocess.Popen(
                        [sys.executable, __file__, "--worker", u, str(n), f"w{i}", str(start_at)],
                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    )
                    for i in range(2)
                ]
                for p in procs:
                    out, err = p.communicate(timeout=180)
                    if p.returncode != 0:
                        raise RuntimeError(f"worker failed: {err[-800:]}")
                dt = DeltaTable(u, storage_options=o)
                rows = dt.to_pyarrow_table().num_rows
                conflicts = len([ln for ln in log_lines(srv_log, "_delta_log/0") if " PUT " in ln and "412" in ln])
                return 1 + 2 * n, dt.version() + 1, rows, conflicts

    def concurrent_safe() -> str:
        expected, versions, rows, conflicts = concurrent(False)
        assert versions == expected and rows == expected, (expected, versions, rows)
        assert conflicts > 0, "no commit race happened: the check proved nothing"
        return (f"2 processes x 8 appends: {versions} versions, {rows} rows, no lost commit; "
                f"{conflicts} commit PUTs got 412 and were retried")

    check("a4 delta-rs concurrent commits from 2 processes (conditional put)", concurrent_safe)

    def concurrent_broken() -> str:
        expected, versions, rows, _ = concurrent(True)
        lost = expected - rows
        assert lost > 0, "the race did not lose a commit on a broken store: the race is not being provoked"
        return f"store ignoring If-None-Match: expected {expected} rows, got {rows} ({lost} commits silently overwritten)"

    check("a5 negative control: same race on a store that ignores If-None-Match", concurrent_broken)

    def dynamodb_locking() -> str:
        ddb = s3.boto3_client("dynamodb")
        ddb.create_table(
            TableName="delta_log",
            AttributeDefinitions=[
                {"AttributeName": "tablePath", "AttributeType": "S"},
                {"AttributeName": "fileName", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "tablePath", "KeyType": "HASH"}, {"AttributeName": "fileName", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST",
        )
        u = s3.uri("lake/test/dynamo")
        o = {**{k: v for k, v in opts.items() if k != "aws_conditional_put"}, "AWS_S3_LOCKING_PROVIDER": "dynamodb",
             "DELTA_DYNAMO_TABLE_NAME": "delta_log"}
        write_deltalake(u, events("2024-01-01", 2), storage_options=o)
        write_deltalake(u, events("2024-01-01", 2), mode="append", storage_options=o)
        items = ddb.scan(TableName="delta_log")["Items"]
        assert DeltaTable(u, storage_options=o).version() == 1
        puts = [ln for ln in log_lines(log, "/lake/test/dynamo/_delta_log/0") if " PUT " in ln]
        assert not items and all("inm=*" in ln for ln in puts), (items, puts)
        return ("delta-rs 1.6 ignores AWS_S3_LOCKING_PROVIDER=dynamodb (logs 'no longer supports S3DynamoDBLogStores'): "
                "0 DynamoDB entries, commits used If-None-Match: *")

    check("a6 delta-rs with AWS_S3_LOCKING_PROVIDER=dynamodb (moto DynamoDB)", dynamodb_locking)


def worker(uri: str, n: int, tag: str, start_at: float) -> None:
    from deltalake import DeltaTable, write_deltalake

    opts = json.loads(os.environ["PROBE_OPTS"])
    period = 0.8
    for i in range(n):
        # Both workers load the same snapshot, then commit at the same instant: both aim at
        # version v+1, so every round is a real race for one _delta_log entry.
        time.sleep(max(0.0, start_at + i * period - 0.4 - time.time()))
        dt = DeltaTable(uri, storage_options=opts)
        time.sleep(max(0.0, start_at + i * period - time.time()))
        write_deltalake(dt, events("2024-01-01", 1, f"{tag}-{i}"), mode="append")


# ------------------------------------------------------------------------------------ b. pyarrow


def probe_pyarrow(s3: S3Server) -> None:
    from deltalake import DeltaTable
    from pyarrow import fs as pafs

    fs = s3.pyarrow_fs()
    table_dir = f"{s3.bucket}/lake/test/events"

    def list_and_read() -> str:
        infos = fs.get_file_info(pafs.FileSelector(table_dir, recursive=True))
        parquet = [i.path for i in infos if i.path.endswith(".parquet")]
        dt = DeltaTable(s3.uri("lake/test/events"), storage_options=s3.storage_options())
        want = sorted(u.removeprefix("s3://") for u in dt.file_uris())
        assert sorted(parquet) == want, (parquet, want)
        rows = 0
        for p in parquet:
            with fs.open_input_file(p) as f:
                pf = pq.ParquetFile(f)
                for rg in range(pf.num_row_groups):
                    rows += pf.read_row_group(rg).num_rows
        assert rows == 8, rows
        return f"{len(parquet)} parquet files listed (= DeltaTable.file_uris()), {rows} rows read by row group"

    check("b1 pyarrow S3FileSystem lists and reads the table's parquet files", list_and_read)

    def write_delete() -> str:
        d = f"{s3.bucket}/lake/tmp/scratch"
        pq.write_table(events("2024-01-01", 4), f"{d}/part-0.parquet", filesystem=fs)
        with fs.open_output_stream(f"{d}/sub/note.txt") as f:
            f.write(b"hello")
        assert pq.read_table(f"{d}/part-0.parquet", filesystem=fs).num_rows == 4
        fs.delete_dir(d)
        left = fs.get_file_info(pafs.FileSelector(f"{s3.bucket}/lake/tmp", recursive=True, allow_not_found=True))
        assert not [i for i in left if i.path.startswith(d)], left
        return "write_table + open_output_stream + delete_dir"

    check("b2 pyarrow writes a file and deletes a dir", write_delete)

    def multipart() -> str:
        # 12 MiB through boto3 with 5 MiB parts: CreateMultipartUpload/UploadPart/Complete, and a
        # conditional complete on an existing key must get 412.
        from boto3.s3.transfer import TransferConfig

        c = s3.boto3_client()
        body = os.urandom(12 * 1024 * 1024)
        import io

        c.upload_fileobj(io.BytesIO(body), s3.bucket, "lake/tmp/big.bin",
                         Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
        with fs.open_input_file(f"{s3.bucket}/lake/tmp/big.bin") as f:
            assert f.read() == body
        up = c.create_multipart_upload(Bucket=s3.bucket, Key="lake/tmp/big.bin")
        part = c.upload_part(Bucket=s3.bucket, Key="lake/tmp/big.bin", UploadId=up["UploadId"], PartNumber=1, Body=b"x" * 10)
        try:
            c.complete_multipart_upload(Bucket=s3.bucket, Key="lake/tmp/big.bin", UploadId=up["UploadId"], IfNoneMatch="*",
                                        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
            raise AssertionError("conditional CompleteMultipartUpload overwrote an existing key")
        except c.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "PreconditionFailed", e.response
        # pyarrow's own multipart path (its writes go multipart past 5-10 MiB buffers).
        with fs.open_output_stream(f"{s3.bucket}/lake/tmp/big2.bin") as f:
            f.write(body)
        assert fs.get_file_info(f"{s3.bucket}/lake/tmp/big2.bin").size == len(body)
        fs.delete_dir(f"{s3.bucket}/lake/tmp")
        return "12 MiB multipart upload (boto3 and pyarrow); If-None-Match on CompleteMultipartUpload -> 412"

    check("b3 multipart upload + conditional complete", multipart)


# ------------------------------------------------------------------------------------ d. outage


def probe_outage() -> None:
    from deltalake import DeltaTable, write_deltalake

    with S3Server() as srv:
        u = srv.uri("lake/test/outage")
        write_deltalake(u, events("2024-01-01", 10), partition_by=["ds"], storage_options=srv.storage_options())
        write_deltalake(u, events("2024-01-02", 10), mode="append", storage_options=srv.storage_options())

        def delta_rs_down(fail_fast: bool) -> str:
            dt = DeltaTable(u, storage_options=srv.storage_options(fail_fast=fail_fast))
            srv.stop()
            t0 = time.monotonic()
            try:
                dt.to_pyarrow_table()
                raise AssertionError("read succeeded with the server down")
            except AssertionError:
                raise
            except Exception as e:
                msg = f"after {time.monotonic() - t0:.1f}s {short(e)}"
            finally:
                srv.start()
            dt2 = DeltaTable(u, storage_options=srv.storage_options())
            assert dt2.to_pyarrow_table().num_rows == 20  # data came back with the restart
            return msg

        check("d1 delta-rs read, server stopped (fail_fast options)", lambda: delta_rs_down(True))

        def delta_rs_open_down() -> str:
            srv.stop()
            t0 = time.monotonic()
            try:
                DeltaTable(u, storage_options=srv.storage_options(fail_fast=True))
                raise AssertionError("open succeeded")
            except AssertionError:
                raise
            except Exception as e:
                return f"after {time.monotonic() - t0:.1f}s {short(e)}"
            finally:
                srv.start()

        check("d2 delta-rs open table, server stopped (fail_fast)", delta_rs_open_down)

        def delta_rs_hang() -> str:
            dt = DeltaTable(u, storage_options=srv.storage_options(fail_fast=True))
            srv.pause()
            t0 = time.monotonic()
            try:
                dt.to_pyarrow_table()
                raise AssertionError("read succeeded with the server frozen")
            except AssertionError:
                raise
            except Exception as e:
                return f"after {time.monotonic() - t0:.1f}s {short(e)}"
            finally:
                srv.resume()

        check("d3 delta-rs read, server frozen/SIGSTOP (fail_fast: timeout=5s)", delta_rs_hang)

        def write_down() -> str:
            srv.stop()
            t0 = time.monotonic()
            try:
                write_deltalake(u, events("2024-01-03", 1), mode="append", storage_options=srv.storage_options(fail_fast=True))
                raise AssertionError("write succeeded")
            except AssertionError:
                raise
            except Exception as e:
                return f"after {time.monotonic() - t0:.1f}s {short(e)}"
            finally:
                srv.start()

        check("d4 delta-rs append, server stopped (fail_fast)", write_down)

        def pyarrow_down(pause: bool) -> str:
            fs = srv.pyarrow_fs(fail_fast=True)
            infos = fs.get_file_info(pafs_selector(f"{srv.bucket}/lake/test/outage"))
            files = [i.path for i in infos if i.path.endswith(".parquet")]
            f = fs.open_input_file(files[0])  # opened (HEAD done) before the outage
            if pause:
                srv.pause()
            else:
                srv.stop()
            t0 = time.monotonic()
            try:
                pq.ParquetFile(f).read()
                raise AssertionError("read succeeded")
            except AssertionError:
                raise
            except Exception as e:
                return f"after {time.monotonic() - t0:.1f}s {short(e)}"
            finally:
                if pause:
                    srv.resume()
                else:
                    srv.start()

        check("d5 pyarrow read of an open file, server stopped (fail fast)", lambda: pyarrow_down(False))
        check("d6 pyarrow read of an open file, server frozen (request_timeout=5)", lambda: pyarrow_down(True))


def pafs_selector(path: str):
    from pyarrow import fs as pafs

    return pafs.FileSelector(path, recursive=True)


# ------------------------------------------------------------------------------------- c. Spark


def probe_spark(s3: S3Server, log: str) -> None:
    from deltalake import DeltaTable, write_deltalake
    from pyspark.sql import SparkSession

    from lakeops.jars import group_jars

    jars = [str(j) for j in group_jars("delta") + group_jars("s3")]
    builder = (
        SparkSession.builder.master("local[2]").appName("s3-probe")
        .config("spark.jars", ",".join(jars))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.databricks.delta.snapshotPartitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
    )
    for k, v in s3.spark_conf(fail_fast=True).items():
        builder = builder.config(k, v)
    t0 = time.monotonic()
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    info(f"Spark session up in {time.monotonic() - t0:.1f}s")
    try:
        def parquet_roundtrip() -> str:
            df = spark.createDataFrame([(i, f"r{i}") for i in range(100)], "id long, s string")
            df.write.mode("overwrite").parquet(s3.uri("lake/x/", "s3a"))
            n = spark.read.parquet(s3.uri("lake/x/", "s3a")).count()
            assert n == 100, n
            return "s3a parquet write+read 100 rows"

        check("c1 Spark s3a parquet write/read", parquet_roundtrip)

        native = s3.uri("lake/test/native", "s3a")

        def delta_spark() -> str:
            from pyspark.sql import functions as F

            rows = [(d, i, float(i)) for d in ("2024-01-01", "2024-01-02") for i in range(5)]
            base = spark.createDataFrame(rows, "ds string, id long, v double")
            base.write.format("delta").mode("overwrite").partitionBy("ds").save(native)
            new = spark.createDataFrame([("2024-01-01", i, 100.0 + i) for i in range(3)], "ds string, id long, v double")
            new.write.format("delta").mode("overwrite").option("replaceWhere", "ds = '2024-01-01'").save(native)
            got = spark.read.format("delta").load(native)
            by_ds = {r["ds"]: r["n"] for r in got.groupBy("ds").agg(F.count("*").alias("n")).collect()}
            assert by_ds == {"2024-01-01": 3, "2024-01-02": 5}, by_ds
            return f"delta-spark overwrite + replaceWhere: rows per ds {by_ds}"

        check("c2 delta-spark writes a Delta table at s3a:// with replaceWhere and reads it", delta_spark)

        def rs_reads_spark() -> str:
            dt = DeltaTable(s3.uri("lake/test/native"), storage_options=s3.storage_options())
            t = dt.to_pyarrow_table()
            assert t.num_rows == 8 and dt.version() == 1, (t.num_rows, dt.version())
            return f"delta-rs reads delta-spark's table: version {dt.version()}, {t.num_rows} rows, protocol {dt.protocol()}"

        check("c3 delta-rs reads the table delta-spark wrote", rs_reads_spark)

        def spark_reads_rs() -> str:
            n = spark.read.format("delta").load(s3.uri("lake/test/events", "s3a")).count()
            assert n == 8, n
            # and Spark appends to the delta-rs table, delta-rs sees it
            spark.createDataFrame([("2024-01-03", 1, "spark", 1.0)], "ds string, id long, tag string, v double") \
                .write.format("delta").mode("append").save(s3.uri("lake/test/events", "s3a"))
            dt = DeltaTable(s3.uri("lake/test/events"), storage_options=s3.storage_options())
            assert dt.to_pyarrow_table().num_rows == 9
            write_deltalake(s3.uri("lake/test/events"), events("2024-01-04", 1, "rs"), mode="append",
                            storage_options=s3.storage_options())
            n2 = spark.read.format("delta").load(s3.uri("lake/test/events", "s3a")).count()
            assert n2 == 10, n2
            return "Spark reads delta-rs' table (8 rows), appends; delta-rs appends after; both see 10 rows"

        check("c4 Spark reads (and appends to) the table delta-rs wrote", spark_reads_rs)

        def logstore() -> str:
            jvm = spark._jvm
            hpath = jvm.org.apache.hadoop.fs.Path(native)
            delta_log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, hpath)
            store = delta_log.store()
            cls = store.getClass().getName()
            try:
                inner = store.getDelegate(jvm.org.apache.hadoop.fs.Path(native + "/_delta_log"))
                impl = inner.getClass().getName()
                if impl.endswith("LogStoreAdaptor"):
                    impl += "(" + inner.logStoreImpl().getClass().getName() + ")"
            except Exception as e:
                impl = f"? ({short(e, 80)})"
            spark_puts = [ln for ln in log_lines(log, "/lake/test/native/_delta_log/0") if " PUT " in ln and ".json" in ln]
            uncond = all("inm=-" in ln for ln in spark_puts)
            assert spark_puts and uncond, spark_puts
            return f"LogStore {cls} -> {impl}; delta-spark's _delta_log PUTs carry no If-None-Match ({len(spark_puts)} seen)"

        check("c5 delta-spark LogStore for s3a", logstore)

        def spark_outage() -> str:
            s3.stop()
            t0 = time.monotonic()
            try:
                spark.read.parquet(s3.uri("lake/x/", "s3a")).count()
                raise AssertionError("read succeeded")
            except AssertionError:
                raise
            except Exception as e:
                first = [ln for ln in str(e).splitlines() if "Exception" in ln][:1]
                return f"{type(e).__name__} after {time.monotonic() - t0:.1f}s: {(first[0] if first else str(e))[:220]}"
            finally:
                s3.start()

        check("d7 Spark s3a read, server stopped (fail_fast s3a conf)", spark_outage)
    finally:
        spark.stop()


# ------------------------------------------------------------------------------------ e. MLflow


def probe_mlflow(s3: S3Server) -> None:
    def artifacts() -> str:
        import importlib.util

        if importlib.util.find_spec("boto3") is None:
            raise RuntimeError("boto3 is not installed: MLflow's S3 artifact repository needs it")
        os.environ.update(s3.env())  # MLFLOW_S3_ENDPOINT_URL + AWS_* for boto3 inside MLflow
        import mlflow
        import mlflow.pyfunc

        with tempfile.TemporaryDirectory() as tmp:
            mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
            exp = mlflow.create_experiment("s3probe", artifact_location=s3.uri("mlflow"))
            Path(tmp, "note.txt").write_text("hello s3")

            class Plus1(mlflow.pyfunc.PythonModel):
                def predict(self, context, model_input):
                    return model_input + 1

            with mlflow.start_run(experiment_id=exp) as run:
                mlflow.log_artifact(str(Path(tmp, "note.txt")), artifact_path="docs")
                mlflow.log_dict({"a": 1}, "meta/d.json")
                mi = mlflow.pyfunc.log_model(name="model", python_model=Plus1())
            listed = [a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "docs")]
            local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="docs/note.txt", dst_path=tmp + "/dl")
            assert Path(local).read_text() == "hello s3"
            import pandas as pd

            pred = mlflow.pyfunc.load_model(mi.model_uri).predict(pd.DataFrame({"x": [1]}))
            assert int(pred["x"][0]) == 2
            keys = [o["Key"] for o in s3.boto3_client().list_objects_v2(Bucket=s3.bucket, Prefix="mlflow/").get("Contents", [])]
            assert any(k.endswith("docs/note.txt") for k in keys), keys
            return (f"artifacts {listed} + pyfunc model round-trip; {len(keys)} objects under "
                    f"s3://{s3.bucket}/mlflow/ (model at {mi.model_uri})")

    check("e1 MLflow artifacts to s3:// via MLFLOW_S3_ENDPOINT_URL", artifacts)


# --------------------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", nargs=4, metavar=("URI", "N", "TAG", "START_AT"))
    ap.add_argument("--skip-spark", action="store_true")
    ap.add_argument("--skip-mlflow", action="store_true")
    args = ap.parse_args()
    if args.worker:
        uri, n, tag, start_at = args.worker
        worker(uri, int(n), tag, float(start_at))
        return 0

    import deltalake
    import moto
    import pyarrow

    info(f"deltalake {deltalake.__version__}, pyarrow {pyarrow.__version__}, moto {moto.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "s3.log")
        t0 = time.monotonic()
        with S3Server(log_path=log) as s3:
            info(f"moto server at {s3.endpoint} bucket {s3.bucket} (up in {time.monotonic() - t0:.1f}s)")
            probe_delta_rs(s3, log)
            probe_pyarrow(s3)
            if not args.skip_mlflow:
                probe_mlflow(s3)
            probe_outage()
            if not args.skip_spark:
                probe_spark(s3, log)
    print(f"{'FAILED: ' + ', '.join(FAILED) if FAILED else 'ALL PASSED'}")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
