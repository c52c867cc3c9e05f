"""A second model onboarded by files alone, beside incident_risk in one lakehouse.

``tests/onboarding/`` holds everything ``latency_breach`` needs: its config
(two entity keys, one an integer; a label from the telemetry itself), its
feature SQL and its suites. The test lays them over a copy of the project's
``conf/`` and ``sql/``, exactly as a user would add them, and runs both models
through the same stage entry points the CLI, the jobs and the DAGs use.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from lakeops import stages
from lakeops.config import load_settings
from lakeops.dates import date_range

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[1]
ONBOARDING = Path(__file__).resolve().parent / "onboarding"
TRAIN_DS, SCORE_DS = date(2024, 1, 19), date(2024, 1, 20)
HOSTS = 300


@pytest.fixture(scope="module")
def project(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(PROJECT / "conf", root / "conf")
    shutil.copytree(PROJECT / "sql", root / "sql")
    shutil.copytree(ONBOARDING, root, dirs_exist_ok=True)
    settings = load_settings(conf_dir=root / "conf", env="test", lake_root=str(root / "lake"),
                             overrides=["models.incident_risk.train.search.trials=1"])
    # Raw data from Dec 9: incident_risk's 30 days of lookback before Jan 8 (latency_breach needs 7).
    stages.run_generate(settings, start=date(2023, 12, 9), end=SCORE_DS, hosts=HOSTS, seed=3)
    results = {}
    for model in ("incident_risk", "latency_breach"):
        stages.run_prepare(settings, model, days=date_range(date(2024, 1, 8), SCORE_DS))
        trained = stages.run_train(settings, model, ds=TRAIN_DS)
        decision = stages.run_validate(settings, model, ds=TRAIN_DS)
        scored = stages.run_score(settings, model, days=[SCORE_DS])
        results[model] = (trained, decision, scored)
    return settings, stages.open_lake(settings), results


def test_both_models_are_scored_into_one_lake_with_their_own_keys(project):
    settings, lake, results = project
    assert set(settings.models) >= {"incident_risk", "latency_breach"}
    for model, (trained, decision, scored) in results.items():
        assert decision.decision == "promoted", (model, decision.reason)
        assert scored.model_version == trained.version and scored.rows == HOSTS

    features = lake.spec("features.latency_breach").schema
    assert features.field("host_num").type == pa.int64() and features.field("region").type == pa.string()
    assert "breach_next_day" in features.names and "incident_next_day" not in features.names

    breach = lake.spec("predictions.latency_breach").schema
    assert breach.field("region").type == pa.string() and breach.field("host_num").type == pa.int64()
    assert "host_id" not in breach.names
    risk = lake.spec("predictions.incident_risk").schema
    assert risk.field("host_id").type == pa.string() and "host_num" not in risk.names

    # Each model's table is the analyst's one-liner; keys come back with their types.
    lake.read("predictions.latency_breach").createOrReplaceTempView("latency_breach")
    top = lake.spark.sql(
        "select region, host_num, score from latency_breach where ds = date'2024-01-20' order by score desc limit 5"
    ).collect()
    assert len(top) == 5 and all(isinstance(r.host_num, int) for r in top)
    rows = lake.read("predictions.latency_breach").select("region", "host_num").distinct().count()
    assert rows == HOSTS  # (region, host_num) identifies a host


def test_stage_entries_refuse_bad_arguments_before_spark_does_anything(project):
    from lakeops.errors import ConfigError, InvalidParameterError

    settings, lake, _ = project
    before = {name: lake.version(name) for name in ("predictions.latency_breach", "ml.job_runs")}
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        stages.run_score(settings, "nope", days=[SCORE_DS])
    with pytest.raises(InvalidParameterError, match="chunk_days"):
        stages.run_score(settings, "latency_breach", days=[SCORE_DS], chunk_days=0)
    with pytest.raises(InvalidParameterError, match="mode"):
        stages.run_validate(settings, "latency_breach", ds=TRAIN_DS, mode="sometimes")
    with pytest.raises(InvalidParameterError, match="rows-per-day"):
        stages.run_generate(settings, start=SCORE_DS, end=SCORE_DS, hosts=10, rows_per_day=20)
    assert {name: lake.version(name) for name in before} == before
