"""``lakeops demo``: the whole loop on a fresh lakehouse, in a few minutes.

Generates a month of telemetry (plus a month of history before it, so every
rolling window and incident history is complete); for each demo model
(:data:`MODELS`: ``incident_risk``, a binary classifier, ``latency_forecast``, a
regression, and ``incident_kind``, a multiclass classifier) prepares features behind the quality gate, trains and promotes a
champion; then runs each remaining day as the daily DAG does (its raw data
arrives, with drift injected on days 35 to 37, then rolled back; for each model
prepare it and re-prepare the day before, whose labels just arrived; score;
monitor and judge the alert rules), one line per model and day with the day's
drift, its estimated quality (AUC, MAE or accuracy) with its band, the realised value of
the day whose labels arrived and the firing alerts; a retrain request is acted on as the train DAG
does (train on the window ending that day, validate, promote when better), so
the days after it are scored by the new champion when it won. Alerts go to a
webhook receiver the demo starts on 127.0.0.1 (unless
``LAKEOPS_ALERT_WEBHOOK_URL`` names one), which saves each payload under
``<lake>/reports/webhook/``. The models run at the same time, as their own
DAGs do (threads sharing the one Spark session). It only calls the stage
entries of :mod:`lakeops.stages`, exactly as the CLI, the jobs and the DAGs do.

Writes every table of the lakehouse at ``settings.lake.root`` (which must be
empty or absent) and the report under ``<lake>/reports/``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

from lakeops import logs, stages
from lakeops.alert.notify import URL_ENV
from lakeops.config import Settings
from lakeops.dates import date_range
from lakeops.errors import InvalidParameterError, LakeopsError
from lakeops.evaluate.shadow import describe
from lakeops.lake.storage import Storage, storage_for
from lakeops.logs import LOG_FOLDER

if TYPE_CHECKING:
    from lakeops.alert import AlertResult
    from lakeops.monitor import MonitorResult
    from lakeops.score.run import ScoreResult

T = TypeVar("T")
U = TypeVar("U")

#: The demo's models, in the order they run each day: those of them the config has.
MODELS = ("incident_risk", "latency_forecast", "incident_kind")
MODEL = MODELS[0]
START = date(2024, 1, 1)
HISTORY_DAYS = 31  # raw history before START: the features' 30-day lookback is complete from day one
#: The lake holds these when lakeops made it (what ``--reset`` may remove).
LAKE_MARKERS = ("raw", "features", "predictions", "ml", "mlflow.db", "mlartifacts", "reports", "_reports", LOG_FOLDER)


@dataclass(frozen=True)
class DemoPlan:
    days: int = 45
    drift_day: int = 35
    #: How many days the drift lasts before it is rolled back (0: it stays): long enough for the
    #: retrain it asks for to wait for labelled days of it (alerts.retrain_after_labelled_days) and
    #: for the new version to serve some of them.
    drift_days: int = 8
    train_days: int = 31
    hosts: int = 2000
    seed: int = 42

    def __post_init__(self) -> None:
        if not 20 <= self.days <= 366:
            raise InvalidParameterError(f"--days must be between 20 and 366, got {self.days}")
        if not self.train_days < self.drift_day <= self.days:
            raise InvalidParameterError("the drift must start after the training days and within the demo's days")
        if self.drift_days < 0:
            raise InvalidParameterError(f"the drift lasts 0 (for good) or more days, got {self.drift_days}")
        if not 100 <= self.hosts <= 1_000_000:
            raise InvalidParameterError(f"--hosts must be between 100 and 1,000,000, got {self.hosts}")

    @property
    def end(self) -> date:
        return START + timedelta(days=self.days - 1)

    @property
    def drift_start(self) -> date:
        return START + timedelta(days=self.drift_day - 1)

    @property
    def drift_end(self) -> date | None:
        """The first day after the drift (rolled back), or ``None`` when it stays."""
        return self.drift_start + timedelta(days=self.drift_days) if self.drift_days else None

    @property
    def train_ds(self) -> date:
        return START + timedelta(days=self.train_days - 1)


def run_demo(settings: Settings, plan: DemoPlan, *, reset: bool = False, out: TextIO | None = None,
             models: Sequence[str] = ()) -> Path | str:
    """Run the demo on ``models`` (default: every demo model the config has); returns the report's
    index page of the first (a path, or a URI on object storage)."""
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise InvalidParameterError(f"not a demo model: {', '.join(unknown)} (the demo models: {', '.join(MODELS)})")
    for m in models or (MODEL,):
        settings.model(m)  # its config must be there
    models = [m for m in MODELS if (m in models if models else m in settings.models)]
    storage = storage_for(settings.lake.root, options=settings.lake.storage_options)
    root = storage.describe()
    _check_lake(storage, reset=reset)
    main = models[0]
    say = _Printer(out or sys.stdout)
    say(f"lakeops demo: lakehouse {root}, {plan.hosts:,} hosts, {START}..{plan.end}, models {', '.join(models)}, "
        f"drift injected from {plan.drift_start}"
        + (f" and rolled back on {plan.drift_end}" if plan.drift_end else ""))
    t0 = time.monotonic()
    say.step("generate raw telemetry and incidents up to the training day", lambda: stages.run_generate(
        settings, start=START - timedelta(days=HISTORY_DAYS), end=plan.train_ds, hosts=plan.hosts, seed=plan.seed,
        drift_start=plan.drift_start, drift_end=plan.drift_end))
    say(f"prepare, train and validate {', '.join(models)} at once, as their own DAGs would run (each model's "
        "steps when they are done):")
    _at_once(models, lambda model: say.block(partial(_first_champion, settings, model, plan)))

    days = date_range(plan.train_ds + timedelta(days=1), plan.end)
    delay = settings.model(main).label_delay_days
    say(f"run {len(days)} days as the daily DAG does: the day's raw data arrives, then for each model prepare (it "
        f"and the {delay} day(s) before, whose labels arrived), score, monitor and judge the alert rules; a retrain "
        "request trains, validates and (when the challenger wins) promotes a new champion:")
    say(f"  {'day':<10}  {'model':<16}  {'rows':>6}  {'ver':>3}  {'max PSI':>7}  {'column':<24}  {'estimate':>14}  "
        f"{'band':<13}  {'realised (day)':<30}  alerts (+ firing, - resolved)")
    with _webhook(storage) as receiver:
        for i, d in enumerate(days, start=1):
            stages.run_generate(settings, start=d, end=d, hosts=plan.hosts, seed=plan.seed,
                                drift_start=plan.drift_start, drift_end=plan.drift_end)
            runs = _at_once(models, partial(model_day, settings, day=d))
            for model, run in zip(models, runs, strict=True):
                say.progress(_day_line(d, model, run), i, len(days))
            asked = [(model, request) for model, run in zip(models, runs, strict=True)
                     for request in run.alerts.retrain_requests]
            _at_once(asked, lambda ask: say.block(partial(_retrain, settings, *ask)))
    if receiver is not None:
        say(f"the local webhook receiver got {receiver.summary()} (Alertmanager's payload), saved in "
            f"{receiver.folder}")
    # The daily DAG draws each day's page after its alerts; the demo draws every day's at the end, at once.
    reports: dict[str, Path | str] = {}
    for model in models:
        drawn = say.step(f"{model}: the report pages of {days[0]}..{days[-1]}",
                         partial(stages.run_report, settings, model, days=days))
        reports[model] = drawn.pages[-1]
    say(f"done in {time.monotonic() - t0:.0f} s")
    if MODEL in models:
        _riskiest(say, settings, plan.end)
    _next_steps(say, settings, root, reports, plan, main)
    if main not in reports:  # DemoPlan keeps days after training
        raise LakeopsError("the demo wrote no report page")
    return reports[main]


def _at_once(items: Sequence[U], work: Callable[[U], T]) -> list[T]:
    """``work`` on every item (a model's part) at the same time, as each model's own DAGs run in
    Airflow; the results in the items' order. The models' Spark jobs share the session's cores."""
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(len(items), thread_name_prefix="lakeops-demo") as pool:
        return list(pool.map(work, items))


def _first_champion(settings: Settings, model: str, plan: DemoPlan, say: _Block) -> None:
    """Prepare the model's first month behind the quality gate, train on it and validate (a first champion)."""
    kind = settings.model(model).problem_type
    prepared = say.step(f"{model} ({kind}): prepare features for {plan.train_days} days behind the quality gate",
                        partial(stages.run_prepare, settings, model, days=date_range(START, plan.train_ds)))
    say.detail(f"features.{model}: {prepared.write.rows:,} rows")
    trained = say.step(f"{model}: train on the labelled days up to {plan.train_ds}",
                       partial(stages.run_train, settings, model, ds=plan.train_ds))
    say.detail(f"version {trained.version}: {trained.summary}")
    decision = say.step(f"{model}: validate against the champion",
                        partial(stages.run_validate, settings, model, ds=plan.train_ds))
    say.detail(f"{decision.decision}: {decision.reason}")


@dataclass(frozen=True)
class DayRun:
    """One model's day as the daily DAG runs it: scored, monitored, its alert rules judged."""

    scored: ScoreResult
    monitored: MonitorResult
    alerts: AlertResult


def _day_line(d: date, model: str, run: DayRun) -> str:
    """One model's day: rows, version, the most drifted column, the estimate with its band, the realised
    value of the day whose labels arrived (and a regression model's interval coverage), the alerts."""
    scored, monitored = run.scored, run.monitored
    s = monitored.days[0]
    q = s.performance
    estimate = f"{q.metric} {q.estimated:.3g}" if q else "-"
    band = f"{q.lower:.3g}-{q.upper:.3g}" if q and q.lower is not None and q.upper is not None else "-"
    late = [x for x in monitored.late if x.realised is not None]
    # A regression model's realised day also says how many labels its interval held.
    realised = ", ".join(f"{x.realised:.3g} ({x.ds:%m-%d}" + (f", {x.coverage:.0%} in interval)" if x.coverage
                                                             is not None else ")") for x in late[-1:]) or "-"
    return (f"  {d.isoformat():<10}  {model:<16}  {scored.rows:>6,}  {s.model_version:>3}  {s.max_psi:>7.3f}  "
            f"{s.max_psi_column:<24}  {estimate:>14}  {band:<13}  {realised:<30}  {_alert_line(run.alerts)}")


def daily_cycle(
    settings: Settings,
    model: str,
    day: date,
    *,
    hosts: int,
    seed: int,
    drift_start: date | None = None,
    drift_end: date | None = None,
) -> DayRun:
    """One day as the daily DAG runs it: the day's raw data arrives (generated: ``hosts``, ``seed``
    and the drift as :func:`lakeops.stages.run_generate` takes them), then prepare it and the
    ``label_delay_days`` before it (their labels arrived), score, monitor and judge the alert rules
    (the report is left out: draw it with :func:`lakeops.stages.run_report`)."""
    stages.run_generate(settings, start=day, end=day, hosts=hosts, seed=seed, drift_start=drift_start,
                        drift_end=drift_end)
    return model_day(settings, model, day)


def model_day(settings: Settings, model: str, day: date) -> DayRun:
    """One model's part of a day once its raw data arrived: prepare it and the ``label_delay_days`` before
    it (their labels arrived), score, monitor and judge the alert rules."""
    delay = settings.model(model).label_delay_days
    stages.run_prepare(settings, model, days=date_range(day - timedelta(days=delay), day))
    scored = stages.run_score(settings, model, days=[day])
    monitored = stages.run_monitor(settings, model, days=[day])
    return DayRun(scored, monitored, stages.run_alerts(settings, model, days=[day]))


def _alert_line(alerts: AlertResult) -> str:
    """Firing alerts of the day by rule (slices counted), with today's changes marked."""
    changes = {(n.rule, n.slice_value): "+" if n.status == "firing" else "-" for n in alerts.notices}
    firing: dict[str, int] = {}
    for a in alerts.rows:
        if a["state"] == "firing":
            firing[a["rule"]] = firing.get(a["rule"], 0) + 1
    parts = [f"{'+' if any(k[0] == rule and v == '+' for k, v in changes.items()) else ''}{rule}"
             f"{f' x{n}' if n > 1 else ''}" for rule, n in sorted(firing.items())]
    parts += sorted({f"-{rule}" for (rule, _), v in changes.items() if v == "-" and rule not in firing})
    return ", ".join(parts) or "-"


def _retrain(settings: Settings, model: str, request, say: _Block) -> None:
    """Act on a retrain request as the train DAG does: train on the window ending that day (its newest
    labelled days, the change's, held out), score those days in shadow beside the champion, then the gate."""
    since = f" (the change began on {request.change_began})" if request.change_began else ""
    say(f"  {model}: retrain requested on {request.ds} by alert {request.rule} ({request.fingerprint}){since}:")
    trained = say.step(f"train on the labelled days up to {request.ds}", lambda: stages.run_train(
        settings, model, ds=request.ds, requested_by=request.fingerprint))
    say.detail(f"version {trained.version}: trained on {trained.train_days[0]}..{trained.train_days[-1]}, "
               f"{trained.summary} ({trained.holdout_days[0]}..{trained.holdout_days[-1]})")
    shadow_days = date_range(trained.holdout_days[0], request.ds)
    say.step(f"shadow-score {shadow_days[0]}..{shadow_days[-1]} with version {trained.version} beside the champion",
             lambda: stages.run_score(settings, model, days=shadow_days, shadow=True))
    cfg = settings.model(model)
    known = cfg.gate_metrics()
    metrics = {t.metric: known[t.metric] for t in cfg.gate_thresholds}
    for line in describe(stages.compare_shadow(settings, model, days=shadow_days), metrics):
        say.detail(line)
    decision = say.step("validate against the champion on the same holdout",
                        lambda: stages.run_validate(settings, model, ds=request.ds))
    say.detail(f"{decision.decision}: {decision.reason}")


@contextmanager
def _webhook(storage: Storage) -> Iterator[_Receiver | None]:
    """A receiver on 127.0.0.1 for the demo's alerts, unless ``LAKEOPS_ALERT_WEBHOOK_URL`` names a real one."""
    if os.environ.get(URL_ENV):
        yield None
        return
    receiver = _Receiver(storage, storage.join("reports", "webhook"))
    os.environ[URL_ENV] = receiver.url
    try:
        yield receiver
    finally:
        os.environ.pop(URL_ENV, None)
        receiver.close()


class _Receiver:
    """Saves every payload posted to it as ``<folder>/NNN-<status>.json``."""

    def __init__(self, storage: Storage, folder: str) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.folder = folder
        self.statuses: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                outer.statuses.append(body["status"])
                name = f"{len(outer.statuses):03d}-{body['status']}.json"
                storage.write_bytes(f"{outer.folder}/{name}", json.dumps(body, indent=2).encode())
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/alerts"

    def summary(self) -> str:
        return (f"{self.statuses.count('firing')} firing and {self.statuses.count('resolved')} resolved "
                "payload(s)")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _check_lake(storage: Storage, *, reset: bool) -> None:
    import pyarrow.fs as pafs

    root = storage.describe()
    listing = storage.filesystem.get_file_info(pafs.FileSelector(storage.fs_path(storage.root), allow_not_found=True))
    found = [info.base_name for info in listing]
    if not found:
        return
    ours = all(name in LAKE_MARKERS for name in found)
    if not reset:
        raise InvalidParameterError(f"{root} is not empty: the demo starts from a fresh lakehouse. Pass --reset to "
                                    "remove it first, or --lake DIR for another folder")
    if not ours:
        raise InvalidParameterError(f"{root} holds files lakeops did not make ({', '.join(sorted(found)[:5])}); "
                                    "refusing to remove it: pick another --lake")
    storage.remove_tree(storage.root)


def _riskiest(say: _Printer, settings: Settings, day: date, *, top: int = 5) -> None:
    """The riskiest hosts of the last day and why, as ``sql/queries/riskiest_entities_today.sql`` gives them."""
    from lakeops.sql import query

    text = (settings.project_dir / "sql" / "queries" / "riskiest_entities_today.sql").read_text()
    rows = query(settings.lake.root, text, params={"ds": day, "top": top}).to_pylist()
    say(f"the {len(rows)} hosts {MODEL} rates riskiest on {day}, and why (each feature's push on the log-odds):")
    for r in rows:
        reasons = ", ".join(f"{r[f'reason_{i}']} {r[f'reason_{i}_contribution']:+.2f}" for i in (1, 2, 3)
                            if r.get(f"reason_{i}") is not None)
        say(f"  {r['risk_rank']:>2}. {r['host_id']:<10} score {r['score']:.3f}  {reasons}")


def _next_steps(say: _Printer, settings: Settings, root: str, reports: dict[str, Path | str],
                plan: DemoPlan, model: str) -> None:
    lake = f"--lake {root}"
    tracking = settings.mlflow.tracking_uri or f"sqlite:///{Path(root) / 'mlflow.db'}"
    week_end = plan.end.isoformat()
    say("")
    say("where to look next:")
    for model, report in reports.items():
        say(f"  the report of {model:<16} {report}")
    say(f"  MLflow runs, registry .venv/bin/mlflow ui --backend-store-uri {tracking}")
    say("  SQL over the tables   (well under a second, no JVM)")
    say(f"    .venv/bin/lakeops {lake} sql -f sql/queries/columns_drifted_this_week.sql "
        f"--param model={model} --param ds={week_end}")
    say(f"    .venv/bin/lakeops {lake} sql -f sql/queries/drift_trend_of_one_column.sql --param model={model} "
        f"--param column=latency_p95_ms --param start={START} --param end={week_end}")
    say(f"    .venv/bin/lakeops {lake} sql -f sql/queries/riskiest_entities_today.sql --param ds={week_end} "
        "--param top=10")
    say(f"    .venv/bin/lakeops {lake} sql -f sql/queries/is_the_model_still_good.sql --param model={model} "
        f"--param ds={week_end} --param days=14")
    say(f"    .venv/bin/lakeops {lake} sql -f sql/queries/open_alerts.sql --param model={model} --param ds={week_end}")
    say(f"    .venv/bin/lakeops {lake} sql -f sql/queries/why_does_this_version_exist.sql --param model={model}")
    if "latency_forecast" in reports:
        say(f"    .venv/bin/lakeops {lake} sql -f sql/queries/regression_error_by_day.sql --param model=latency_forecast "
            f"--param start={plan.train_ds + timedelta(days=1)} --param end={week_end}")
        say(f"    .venv/bin/lakeops {lake} sql -f sql/queries/largest_misses_on_a_day.sql --param ds={plan.drift_start} "
            "--param top=10")
    if "incident_kind" in reports:
        say(f"    .venv/bin/lakeops {lake} sql -f sql/queries/which_class_is_getting_worse.sql --param model=incident_kind "
            f"--param start={plan.train_ds + timedelta(days=1)} --param end={week_end}")
        say(f"    .venv/bin/lakeops {lake} sql -f sql/queries/confusion_matrix_on_a_day.sql --param model=incident_kind "
            f"--param ds={plan.drift_start}")
    say("  the Airflow DAGs      make airflow   (then open http://127.0.0.1:8080)")
    if logs.redirected() is not None:
        say(f"  Spark, MLflow, XGBoost output  {logs.redirected()}")


class _Printer:
    """Lines as they happen; a progress bar on a terminal. Blocks of lines from work running at once
    (:meth:`block`) are printed whole, each when its work is done."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.steps = 0
        self.lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self.lock:
            print(line, file=self.out, flush=True)

    def detail(self, line: str) -> None:
        self(f"      {line}")

    def step(self, what: str, run: Callable[[], T]) -> T:
        with self.lock:
            self.steps += 1
            print(f"[{self.steps}] {what} ...", end="" if self.tty else "\n", file=self.out, flush=True)
        started = time.monotonic()
        result = run()
        self(_done(time.monotonic() - started, tty=self.tty))
        return result

    def block(self, work: Callable[[_Block], T]) -> T:
        """Run ``work`` with a :class:`_Block` of its own, then print the block (its steps numbered now)."""
        block = _Block()
        try:
            return work(block)
        finally:
            with self.lock:
                for line, is_step in block.lines:
                    if is_step:
                        self.steps += 1
                        line = f"[{self.steps}] {line}"
                    print(line, file=self.out, flush=True)

    def progress(self, line: str, i: int, n: int) -> None:
        if self.tty:
            width = 30
            filled = width * i // n
            print(f"\r\033[K{line}", file=self.out)
            print(f"  [{'#' * filled}{'.' * (width - filled)}] {i}/{n}", end="\r", file=self.out, flush=True)
            if i == n:
                print("\033[K", end="", file=self.out, flush=True)
        else:
            self(line)


class _Block:
    """The lines of one piece of work that runs beside others, kept until it is done."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, bool]] = []  # (line, whether it is a step to number)

    def __call__(self, line: str) -> None:
        self.lines.append((line, False))

    def detail(self, line: str) -> None:
        self(f"      {line}")

    def step(self, what: str, run: Callable[[], T]) -> T:
        self.lines.append((f"{what} ...", True))
        started = time.monotonic()
        result = run()
        self(_done(time.monotonic() - started, tty=False))
        return result


def _done(seconds: float, *, tty: bool) -> str:
    return f" done in {seconds:.0f} s" if tty else f"      done in {seconds:.0f} s"
