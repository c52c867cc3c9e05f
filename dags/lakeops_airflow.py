"""What the lakeops DAGs share: the models, the run's ``ds``, where the lakehouse is, the
raw-partition check and the operator that spark-submits a job.

Not a DAG file (``.airflowignore`` lists it); ``lakeops_daily.py`` and ``lakeops_train.py``
import it at parse time (putting their folder on ``sys.path`` first: only the DAG processor
does so for them), so at module level it imports only the standard library, Airflow's
authoring API, the Spark provider's operator, :mod:`lakeops.constants` and :mod:`lakeops.stage_io`
(both standard library only). The rest of lakeops, deltalake and PyYAML are imported inside the functions, which run in
tasks (PyYAML also at parse time, to read model configs).

Settings, read when a task runs, never at parse time (an Airflow Variable, else the
environment variable, else the default):

===============================  ============================  ==========================================
Variable                         environment                   default
===============================  ============================  ==========================================
``lakeops_home``                 LAKEOPS_HOME                  the folder above ``dags/``: ``jobs/`` lives
                                                               here
``lakeops_lake``                 LAKEOPS_LAKE                  ``<home>/lakehouse`` (a folder, or an
                                                               ``s3://bucket/prefix``)
``lakeops_conf``                 LAKEOPS_CONF                  ``<home>/conf``
``lakeops_env``                  LAKEOPS_ENV                   none (``conf/base`` only)
``lakeops_mlflow_tracking_uri``  LAKEOPS_MLFLOW_TRACKING_URI   none (the config's ``mlflow.tracking_uri``);
                                                               the MLflow tracking server the jobs log to
                                                               and load models from, e.g.
                                                               ``http://127.0.0.1:55500``, passed as
                                                               ``--set mlflow.tracking_uri=...``
``lakeops_set``                  LAKEOPS_SET                   none; ``key=value`` items separated by
                                                               spaces, each passed as ``--set`` (after the
                                                               tracking URI's: they win over it)
===============================  ============================  ==========================================

A password in the tracking URI (``postgresql://user:secret@...``) is registered with Airflow's
secret masker before the command line that carries it is logged.

The models are the files ``<conf>/base/models/*.yaml`` (``LAKEOPS_CONF`` from the
environment of the process that parses the DAGs); ``LAKEOPS_RETRY_DELAY_SECONDS`` sets the
first retry delay (default 300). The Spark master is the connection ``spark_default``'s.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import Asset

# Standard library only: what each stage reads and writes (the tasks' outlets and inlets).
from lakeops import stage_io

# Standard library only: the facts the CLI and the jobs share (exit codes, name and date patterns).
from lakeops.constants import (
    DS_PATTERN,
    EXIT_REFUSED,
    EXIT_USAGE,
    FINGERPRINT_PATTERN,
    NAME_PATTERN,
    OBJECT_SCHEMES,
)

try:  # Airflow >= 3.2
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowException, AirflowFailException, AirflowSkipException
# Re-exported for the DAG files. Airflow >= 3.2: timetables are part of the authoring API.
try:
    from airflow.sdk import AssetOrTimeSchedule as AssetOrTimeSchedule
    from airflow.sdk import CronDataIntervalTimetable as CronDataIntervalTimetable
    from airflow.sdk import CronTriggerTimetable as CronTriggerTimetable
except ImportError:  # Airflow 3.1
    from airflow.timetables.assets import AssetOrTimeSchedule as AssetOrTimeSchedule
    from airflow.timetables.interval import CronDataIntervalTimetable as CronDataIntervalTimetable
    from airflow.timetables.trigger import CronTriggerTimetable as CronTriggerTimetable

if TYPE_CHECKING:
    from airflow.sdk import Context

PROJECT = Path(__file__).resolve().parents[1]
OWNER = "lakeops"
CONN_ID = "spark_default"
#: The jobs' exit codes: 1 may be transient, 2 and 3 never get better by retrying.
_NO_RETRY = {EXIT_USAGE: "bad argument or config", EXIT_REFUSED: "the data was refused (quality gate or schema)"}
#: The Airflow connection whose host (an http(s) URL) and password (a bearer token) receive alerts.
ALERTS_CONN_ID = "lakeops_alerts"
#: The Alertmanager the alerts job gives each day's firing and resolved alerts (host: its base URL,
#: password: a bearer token, if any).
ALERTMANAGER_CONN_ID = "lakeops_alertmanager"
#: The Pushgateway every job pushes its run's metrics to (host: its base URL, password: a bearer token).
PUSHGATEWAY_CONN_ID = "lakeops_pushgateway"


def default_args() -> dict[str, Any]:
    """Owner and retries: 3, with exponential backoff from 5 minutes (Airflow adds jitter), at most an hour."""
    return {
        "owner": OWNER,
        "retries": 3,
        "retry_delay": timedelta(seconds=float(os.environ.get("LAKEOPS_RETRY_DELAY_SECONDS", "300"))),
        # True, not 2.0: 3.1 takes a bool; 3.3 reads True as the multiplier 2.
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(hours=1),
    }


# ----------------------------------------------------------------------------- parse time


@dataclass(frozen=True)
class Model:
    """A model config file: its name (the file's stem), description and problem type."""

    name: str
    description: str = ""
    problem_type: str = "binary"


def models(conf_dir: Path | None = None) -> list[Model]:
    """The models of ``<conf>/base/models/*.yaml``: file names and descriptions, nothing else.

    Raises:
        ValueError: a file name that is not a valid lakeops name (the DAG files fail to import,
            as ``lakeops`` itself would refuse the config).
    """
    import yaml

    conf_dir = conf_dir or Path(os.environ.get("LAKEOPS_CONF") or PROJECT / "conf")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    found = []
    for path in sorted((conf_dir / "base" / "models").glob("*.yaml")):
        if not NAME_PATTERN.fullmatch(path.stem):
            raise ValueError(f"invalid model file name {path}: expected {NAME_PATTERN.pattern}.yaml")
        doc = yaml.load(path.read_text(), Loader=loader) or {}
        found.append(Model(path.stem, str(doc.get("description") or "").strip(),
                           str(doc.get("problem_type") or "binary")))
    return found


def table_asset(table: str) -> Asset:
    """The Asset of a lakeops table ``<schema>.<table>``: ``lakeops://<schema>/<table>``."""
    schema, name = table.split(".")
    return Asset(f"lakeops://{schema}/{name}")


def model_asset(model: str) -> Asset:
    """The registered model in MLflow: its versions and the ``challenger``/``champion`` aliases."""
    return Asset(f"lakeops://models/{model}")


def stage_assets(stage: stage_io.Stage, model: Model | None) -> tuple[list[Asset], list[Asset]]:
    """A stage's outlets (the tables it writes, and the registered model when it moves versions or
    aliases) and inlets (what it reads), from :mod:`lakeops.stage_io`."""
    name, kind = (model.name, model.problem_type) if model else (None, "binary")
    outlets = [table_asset(t) for t in stage.tables_written(name, kind)]
    inlets = [table_asset(t) for t in stage.tables_read(name, kind)]
    if name and stage.registry == "writes":
        outlets.append(model_asset(name))
    if name and stage.registry:
        inlets.append(model_asset(name))
    return outlets, inlets


def retrain_request(model: str) -> Asset:
    """Asset events on this ask for a retrain of ``model``; their ``extra`` carries the ``ds``."""
    return Asset(f"lakeops://requests/retrain/{model}")


# ----------------------------------------------------------------------------- run time


@dataclass(frozen=True)
class Runtime:
    """Where the project, the lakehouse and the config are, as a task sees them."""

    home: Path
    lake: Path | str  # a local folder, or an s3:// (s3a://) prefix
    conf: Path
    env: str
    overrides: tuple[str, ...]
    mlflow_tracking_uri: str = ""

    def set_items(self) -> tuple[str, ...]:
        """The ``--set`` items: the tracking URI's (when given), then ``lakeops_set``'s, which win."""
        uri = (f"mlflow.tracking_uri={self.mlflow_tracking_uri}",) if self.mlflow_tracking_uri else ()
        return (*uri, *self.overrides)

    def cli_options(self) -> list[str]:
        """The jobs' global options; ``--env`` always, so the worker's own LAKEOPS_ENV cannot leak in."""
        options = ["--lake", str(self.lake), "--conf", str(self.conf), "--env", self.env or "base"]
        for item in self.set_items():
            options += ["--set", item]
        return options

    def settings(self):
        """The loaded lakeops settings (lakeops.config is light: PyYAML and dataclasses)."""
        from lakeops.config import load_settings

        return load_settings(conf_dir=self.conf, env=self.env or None, overrides=self.set_items(),
                             lake_root=str(self.lake))


def runtime() -> Runtime:
    """Read the settings table of the module docstring (inside a task only: Variables are API calls)."""
    home = Path(_setting("lakeops_home", str(PROJECT))).expanduser().resolve()

    def path(value: str) -> Path:
        folder = Path(value).expanduser()
        return (folder if folder.is_absolute() else home / folder).resolve()

    lake = _setting("lakeops_lake", str(home / "lakehouse")).strip()
    return Runtime(
        home=home,
        # An object-store root (s3://bucket/prefix) is kept as written: it is no path of this machine.
        lake=lake.rstrip("/") if lake.startswith(OBJECT_SCHEMES) else path(lake),
        conf=path(_setting("lakeops_conf", str(home / "conf"))),
        env=_setting("lakeops_env", "").strip(),
        overrides=tuple(shlex.split(_setting("lakeops_set", ""))),
        mlflow_tracking_uri=_setting("lakeops_mlflow_tracking_uri", "").strip(),
    )


def _setting(key: str, default: str) -> str:
    from airflow.sdk import Variable

    return str(Variable.get(key, default=os.environ.get(key.upper()) or default))


def resolve_ds(context: Context, *, lag_days: int = 0) -> date:
    """The day this run works on, and where it came from, first found wins:

    1. ``ds`` in the run's conf (``airflow dags trigger --conf '{"ds": "2024-01-31"}'``);
    2. ``ds`` in the ``extra`` of the newest asset event that triggered the run (a retrain request);
    3. the start of the run's data interval, minus ``lag_days``.

    Raises:
        AirflowFailException: none of them (a manual or asset-triggered run without a ``ds``:
            these have no data interval), or a ``ds`` that is not ``YYYY-MM-DD``. Not retried.
    """
    dag_run = context.get("dag_run")
    conf = getattr(dag_run, "conf", None) or {}
    if "ds" in conf:
        return _parse_ds(conf["ds"], "the run's conf")
    events = [event for group in (context.get("triggering_asset_events") or {}).values() for event in group
              if "ds" in (event.extra or {})]
    if events:
        newest = max(events, key=lambda event: event.timestamp)
        return _parse_ds(newest.extra["ds"], f"the asset event on {newest.asset.uri}")
    start = context.get("data_interval_start")
    if start is not None:
        return start.date() - timedelta(days=lag_days)
    raise AirflowFailException(
        "this run has no ds: it has no data interval (a manual or asset-triggered run) and neither its conf "
        "nor a triggering asset event carries one; trigger it with conf {\"ds\": \"YYYY-MM-DD\"}"
    )


def resolve_request(context: Context) -> str | None:
    """The alert fingerprint of the retrain request that triggered this run (``requested_by`` in
    the extra of the newest triggering asset event that has one), or ``None``.

    Raises:
        AirflowFailException: a fingerprint that is not 16 hex digits. Not retried.
    """
    events = [event for group in (context.get("triggering_asset_events") or {}).values() for event in group
              if "requested_by" in (event.extra or {})]
    if not events:
        return None
    value = max(events, key=lambda event: event.timestamp).extra["requested_by"]
    if not (isinstance(value, str) and FINGERPRINT_PATTERN.fullmatch(value)):
        raise AirflowFailException(f"invalid requested_by {value!r} in a retrain request: expected 16 hex digits")
    return value


def post_retrain_request(model: str) -> dict[str, str]:
    """Task body: when the day's alerts asked for a retrain (a row of ``ml.alerts`` with
    ``retrain_requested``), emit the retrain request Asset event with ``{"model", "ds",
    "requested_by", "rule"}`` in its extra; otherwise skip (a skipped task emits no event).
    Reads the Delta table with delta-rs, no Spark (:func:`retrain_requests`)."""
    from airflow.sdk import get_current_context

    context = get_current_context()
    day = resolve_ds(context)
    asked = retrain_requests(runtime().lake, model, day)
    if not asked:
        raise AirflowSkipException(f"no alert of {model} asked for a retrain on {day}")
    extra = {"model": model, "ds": day.isoformat(), "requested_by": asked[0]["fingerprint"], "rule": asked[0]["rule"]}
    context["outlet_events"][retrain_request(model)].extra = extra
    print(f"retrain of {model} requested on {day} by alert {extra['rule']} ({extra['requested_by']})")
    return extra


def retrain_requests(lake: Path | str, model: str, day: date) -> list[dict[str, Any]]:
    """The rows of the alerts table (``ml.alerts``, per its contract) of ``model`` on ``day`` that
    asked for a retrain, as ``{"rule", "fingerprint", "retrain_requested"}``; none when the table
    does not exist yet. Reads the latest snapshot of the lake at ``lake`` (a folder or an
    ``s3://`` prefix): the log, then only that model's and day's files.

    Raises:
        InvalidParameterError: ``model`` is not a valid name.
    """
    from lakeops.errors import TableNotFoundError
    from lakeops.lake.snapshot import open_snapshot
    from lakeops.lake.spec import PartitionSelection
    from lakeops.lake.storage import storage_for
    from lakeops.lake.tables import ALERTS

    try:
        snapshot = open_snapshot(storage_for(lake), ALERTS.name)
    except TableNotFoundError:
        return []
    selection = PartitionSelection.build(snapshot.spec, {"model_name": [model], "ds": [day]})
    # Its files through pyarrow, not DeltaTable.to_pyarrow_table: delta-rs' own pyarrow file
    # system can abort the process as it exits ("terminate called without an active exception").
    rows = snapshot.read_arrow(selection, columns=["rule", "fingerprint", "retrain_requested"]).to_pylist()
    return [r for r in rows if r["retrain_requested"]]


def alert_receiver_env() -> dict[str, str]:
    """``LAKEOPS_ALERT_WEBHOOK_URL`` and ``..._TOKEN`` for the alerts job, from the connection
    ``lakeops_alerts`` (host: the receiver's URL; password: a bearer token), else from this
    process's environment; and likewise ``LAKEOPS_ALERTMANAGER_URL`` and ``..._TOKEN`` from the
    connection ``lakeops_alertmanager`` (host: Alertmanager's base URL). All are registered with
    Airflow's secret masker."""
    return {**_connection_env(ALERTS_CONN_ID, "LAKEOPS_ALERT_WEBHOOK_URL", "LAKEOPS_ALERT_WEBHOOK_TOKEN"),
            **_connection_env(ALERTMANAGER_CONN_ID, "LAKEOPS_ALERTMANAGER_URL", "LAKEOPS_ALERTMANAGER_TOKEN")}


def pushgateway_env() -> dict[str, str]:
    """``LAKEOPS_PUSHGATEWAY_URL`` and ``..._TOKEN`` for every job, from the connection
    ``lakeops_pushgateway`` (host: the Pushgateway's base URL; password: a bearer token), else
    from this process's environment; registered with Airflow's secret masker."""
    return _connection_env(PUSHGATEWAY_CONN_ID, "LAKEOPS_PUSHGATEWAY_URL", "LAKEOPS_PUSHGATEWAY_TOKEN")


def _connection_env(conn_id: str, url_var: str, token_var: str) -> dict[str, str]:
    """``url_var`` and ``token_var`` from the connection ``conn_id`` (host: an http(s) URL, or a host
    name with the scheme in its schema field, https by default, and a port; password: a bearer
    token), else from this process's environment."""
    from airflow.sdk import BaseHook
    from airflow.sdk.log import mask_secret

    env = {k: os.environ[k] for k in (url_var, token_var) if os.environ.get(k)}
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:
        conn = None
    if conn is not None and conn.host:
        host = conn.host if "://" in conn.host else f"{conn.schema or 'https'}://{conn.host}"
        env[url_var] = host if not conn.port or "://" in conn.host else f"{host}:{conn.port}"
        if conn.password:
            env[token_var] = conn.password
    for value in env.values():
        mask_secret(value)
    return env


def _mask_uri_password(uri: str) -> None:
    """Register the password of ``uri`` (``scheme://user:password@host/...``), if it has one, with
    Airflow's secret masker: the tracking URI travels on the job's command line, which is logged."""
    from urllib.parse import urlsplit

    try:
        password = urlsplit(uri).password
    except ValueError:  # a malformed URI: the job will say so
        return
    if password:
        from airflow.sdk.log import mask_secret

        mask_secret(password)


def job_jars(rt: Runtime) -> str | None:
    """The jars a job's driver and executors need on their classpaths from spark-submit's start
    (``--jars``): Delta for ``lake.backend=native``, hadoop-aws for an ``s3://`` lake; ``None`` for
    neither. A session builder's ``spark.jars`` cannot reach a driver spark-submit has already started."""
    from lakeops.jars import group_jars
    from lakeops.lake.storage import is_object_store

    settings = rt.settings()
    groups = [g for g, wanted in (("delta", settings.lake.backend == "native"), ("s3", is_object_store(rt.lake)))
              if wanted]
    return ",".join(str(j) for g in groups for j in group_jars(g)) or None


def _parse_ds(value: object, where: str) -> date:
    if isinstance(value, str) and DS_PATTERN.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise AirflowFailException(f"invalid ds {value!r} in {where}: expected a date YYYY-MM-DD")


def raw_partition_committed(model: str, *, days_after: int = 0, lag_days: int = 0) -> bool:
    """Sensor body: the Delta log of the model's ``sources.observations`` table lists a file
    of the run's day (plus ``days_after``), whatever other partition columns the table has
    (:func:`partition_committed`). Reads the log only (delta-rs, no Spark).

    Raises:
        AirflowFailException: the table is not partitioned by ``ds`` (waiting would never end). Not retried.
    """
    from airflow.sdk import get_current_context

    from lakeops.errors import InvalidParameterError

    context = get_current_context()
    day = resolve_ds(context, lag_days=lag_days) + timedelta(days=days_after)
    rt = runtime()
    table = rt.settings().model(model).sources.observations
    try:
        found = partition_committed(rt.lake, table, day)
    except InvalidParameterError as exc:
        raise AirflowFailException(f"cannot wait for {table} ds={day}: {exc}") from exc
    print(f"{table} partition ds={day} in the lake {rt.lake}: {'committed' if found else 'not committed yet'}")
    return found


def partition_committed(lake: Path | str, table: str, day: date) -> bool:
    """Whether the latest snapshot of ``table`` in the lake at ``lake`` (a folder or an
    ``s3://`` prefix) has a live partition with ``ds = day``, in any values of its other
    partition columns; ``False`` while the table does not exist. Reads the Delta log only.

    Raises:
        InvalidParameterError: ``ds`` is not one of the table's partition columns, or an invalid table name.
    """
    from lakeops.errors import TableNotFoundError
    from lakeops.lake.snapshot import open_snapshot
    from lakeops.lake.storage import storage_for

    try:
        # The log alone answers: no need to read (or be able to read) the data files.
        snapshot = open_snapshot(storage_for(lake), table, check_reader=False)
    except TableNotFoundError:
        return False
    # As a string: typed by the table's own ds column (a date, or a string column of ISO days).
    return snapshot.has_partition({"ds": day.isoformat()})


class LakeopsJob(SparkSubmitOperator):
    """spark-submit the job of one stage (``<home>/jobs/<job>.py``) for one model and the run's day
    (or the training window ending at it), on the master of the connection ``spark_default``. Its
    outlets and inlets are the stage's tables (:mod:`lakeops.stage_io`). A stage that needs a Spark
    session only on the native backend (``alerts``, ``report``, ``maintain``) runs as a plain Python
    process of the worker's environment when the lakehouse is embedded: no spark-submit, no JVM.

    Exit code 2 (bad argument or config) or 3 (refused data) raises
    :class:`AirflowFailException`: no retry. Anything else that fails is retried.
    Each outlet's asset event carries ``{"model", "ds"}`` in its extra.

    Args:
        stage: the job of a stage of :mod:`lakeops.stage_io` (``prepare``, ``train``, ``shadow_score``,
            ``validate_model``, ``score``, ``monitor``, ``alerts``, ``report``, ``maintain``); its
            command gives the script and any options (``score --shadow``). The task id by default.
        model: the model (``None`` for a job of the whole lakehouse: ``maintain``).
        window: pass ``--start/--end`` of the model's training window ending at ``ds``
            (:func:`lakeops.train.window.training_window`) instead of ``--ds``.
        with_label_delay: pass ``--start ds - label_delay_days --end ds``: the trailing days
            whose labels have arrived since they were first prepared are prepared again.
        holdout: pass ``--start/--end`` of the newest ``train.holdout_days`` ending at ``ds``: the
            days a challenger trained at ``ds`` held out (shadow scoring scores them).
        lag_days: ``ds`` is this many days before the start of the data interval.
    """

    ui_color = "#e8f4fd"

    def __init__(self, *, stage: str, model: Model | None, window: bool = False, with_label_delay: bool = False,
                 holdout: bool = False, lag_days: int = 0, **kwargs: Any) -> None:
        declared = stage_io.stage(stage)
        self.needs_spark = declared.spark
        command, *options = declared.command.split()
        job = command.replace("-", "_")
        kwargs.setdefault("task_id", stage)
        outlets, inlets = stage_assets(declared, model)
        kwargs.setdefault("outlets", outlets)
        kwargs.setdefault("inlets", inlets)
        name = model.name if model else None
        super().__init__(application=f"jobs/{job}.py", conn_id=CONN_ID,
                         name=f"lakeops-{stage}-{name}" if name else f"lakeops-{stage}", **kwargs)
        self.job, self.model, self.window, self.lag_days = job, name, window, lag_days
        self.with_label_delay, self.holdout, self.extra_args = with_label_delay, holdout, options

    def execute(self, context: Context) -> None:
        ds = resolve_ds(context, lag_days=self.lag_days)
        rt = runtime()
        days = ["--ds", ds.isoformat()]
        if self.window:
            # The window training reads (lakeops.train.window: standard library only, light for a task).
            from lakeops.train.window import training_window

            start, end = training_window(ds, window_days=rt.settings().model(self.model).train.window_days)
            days = ["--start", start.isoformat(), "--end", end.isoformat()]
        elif self.with_label_delay:
            delay = rt.settings().model(self.model).label_delay_days
            days = ["--start", (ds - timedelta(days=delay)).isoformat(), "--end", ds.isoformat()]
        elif self.holdout:
            held = rt.settings().model(self.model).train.holdout_days
            days = ["--start", (ds - timedelta(days=held - 1)).isoformat(), "--end", ds.isoformat()]
        master = self._master()
        _mask_uri_password(rt.mlflow_tracking_uri)
        self.application = str(rt.home / "jobs" / f"{self.job}.py")
        # The master comes last: lakeops sets it in its session builder, which would otherwise
        # override spark-submit's --master with the config's.
        model = ["--model", self.model] if self.model else []
        self.application_args = [*model, *days, *self.extra_args, *rt.cli_options(), "--set",
                                 f"spark.master={master}"]
        if self.job == "train":
            requested_by = resolve_request(context)
            if requested_by is not None:
                self.application_args += ["--requested-by", requested_by]
        self.jars = job_jars(rt)
        python = sys.executable
        self.env_vars = {
            **(alert_receiver_env() if self.job == "alerts" else {}),
            **pushgateway_env(),
            # spark-submit and the Python it starts are this environment's (pyspark's own bin/).
            "PATH": os.pathsep.join([str(Path(python).parent), os.environ.get("PATH", "")]),
            "PYSPARK_PYTHON": python,
            "PYSPARK_DRIVER_PYTHON": python,
            **({"SPARK_LOCAL_IP": "127.0.0.1"} if master.startswith("local") else {}),
        }
        self._hook, self._python = None, None
        try:
            if self.needs_spark == "native" and rt.settings().lake.backend != "native":
                self._run_python(rt)  # no Spark job and delta-rs commits: no spark-submit, no JVM
            else:
                self._hook = self._get_hook()
                super().execute(context)
        except AirflowException as exc:
            code = self._exit_code()
            if code in _NO_RETRY:
                raise AirflowFailException(
                    f"lakeops {self.job} for {self.model or 'the lakehouse'} {' '.join(days)} exited with {code}: "
                    f"{_NO_RETRY[code]}; "
                    "a retry will not help (the job's log above says what to fix)"
                ) from exc
            raise
        for asset in self.outlets:
            context["outlet_events"][asset].extra = {"model": self.model, "ds": ds.isoformat()}

    def _run_python(self, rt: Runtime) -> None:
        """The job as a plain Python process of this environment, its output in the task's log."""
        import subprocess

        self.log.info("lakeops %s needs no Spark session on the embedded backend: running jobs/%s.py without "
                      "spark-submit", self.job, self.job)
        env = {**os.environ, **self.env_vars}
        cmd = [sys.executable, self.application, *self.application_args]
        # As the Spark provider logs spark-submit's; Airflow's secret masker hides the registered secrets.
        self.log.info("Python job cmd: %s", " ".join(shlex.quote(a) for a in cmd))
        with subprocess.Popen(cmd, cwd=rt.home, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) as proc:
            self._python = proc
            assert proc.stdout is not None
            for line in proc.stdout:
                self.log.info("%s", line.rstrip())
        if proc.returncode:
            raise AirflowException(f"jobs/{self.job}.py exited with {proc.returncode}")

    def _master(self) -> str:
        # The hook resolves the connection (host, port, conn_type) into spark-submit's --master.
        return self._get_hook()._connection["master"]  # noqa: SLF001

    def _exit_code(self) -> int | None:
        # The hook puts spark-submit's exit code only into its exception's message; the process keeps it.
        if self._python is not None:
            return self._python.returncode
        process = self._hook._submit_sp if self._hook is not None else None  # noqa: SLF001
        return process.returncode if process is not None else None

