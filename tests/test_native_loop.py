"""The whole loop on the native delta-spark backend: generate -> prepare -> train -> validate ->
score -> monitor with ``lake.backend=native``, then the same tables read by the embedded
backend and by ``lakeops sql --engine spark`` as Delta tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from lakedata import fingerprint

from lakeops import stages
from lakeops.cli import main
from lakeops.dates import date_range
from lakeops.lake import open_lake

pytestmark = pytest.mark.slow

MODEL = "incident_risk"
DAYS = date_range(date(2024, 1, 1), date(2024, 1, 14))
SCORED = DAYS[-4:]


def test_the_loop_runs_on_the_native_backend(spark, settings, tmp_path, capsys):
    root = tmp_path / "lake"
    s = replace(settings, lake=replace(settings.lake, root=str(root), backend="native"))
    model = s.model(MODEL)
    model = replace(model, train=replace(model.train, search=replace(model.train.search, trials=1)))
    s = replace(s, models={**s.models, MODEL: model})

    stages.run_generate(s, start=date(2023, 12, 2), end=DAYS[-1], hosts=150, seed=5, drift_start=SCORED[0])
    stages.run_prepare(s, MODEL, days=DAYS)
    trained = stages.run_train(s, MODEL, ds=DAYS[-5])
    decision = stages.run_validate(s, MODEL, ds=DAYS[-5])
    stages.run_score(s, MODEL, days=SCORED)
    monitored = stages.run_monitor(s, MODEL, days=SCORED, report=False)
    assert trained.version == 1 and decision.decision == "promoted"
    assert [d.ds for d in monitored.days] == SCORED

    native = stages.open_lake(s)
    assert native.backend_name == "native"
    embedded = open_lake(spark, replace(s.lake, backend="embedded"))
    for table in ("features.incident_risk", "predictions.incident_risk", "ml.drift_metrics", "ml.job_runs"):
        assert fingerprint(native.read(table)) == fingerprint(embedded.read(table)), table
    scored = {p["ds"] for p in native.partitions("predictions.incident_risk")}
    assert scored == set(SCORED)
    history = native.history("predictions.incident_risk", limit=1)[0]
    assert history["operation"] == "WRITE" and history["lakeops.operation"] == "overwrite"

    # Spark SQL reads the native tables as Delta (the lake's own read, format delta).
    capsys.readouterr()
    assert main(["--env", "test", "--lake", str(root), "--set", "lake.backend=native", "sql", "--engine", "spark",
                 "select count(*) as n from predictions.incident_risk where ds >= :ds",
                 "--param", f"ds={SCORED[0]}", "--format", "csv"]) == 0
    rows = embedded.read("predictions.incident_risk").count()
    assert capsys.readouterr().out.split() == ["n", str(rows)]
