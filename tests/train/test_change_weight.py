"""A retrain's window: the day its change began (from ml.alerts) and the weight of the change's days."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa

from lakeops.config import load_settings
from lakeops.lake.embedded import EmbeddedLake
from lakeops.lake.tables import ALERTS
from lakeops.train.data import TrainingWindow, change_began, change_weight

D0 = date(2024, 1, 10)
DAYS = tuple(D0 + timedelta(days=i) for i in range(25))


def window(began):
    return TrainingWindow(train_days=DAYS, holdout_days=(), features_version=0, change_began=began)


def test_the_change_weighs_as_much_as_the_days_before_it_by_default():
    assert change_weight(window(None), weight=None) == 1.0
    assert change_weight(window(DAYS[20]), weight=None) == 20 / 5  # 20 days before, 5 of the change
    assert change_weight(window(DAYS[2]), weight=None) == 1.0  # mostly change already: never below 1
    assert change_weight(window(DAYS[20]), weight=2.5) == 2.5
    assert change_weight(window(DAYS[-1] + timedelta(days=1)), weight=None) == 1.0  # no fit day of it


def test_change_began_is_the_requesting_alerts_episode_start(tmp_path):
    model = load_settings(conf_dir="conf").model("incident_risk")
    lake = EmbeddedLake(None, tmp_path)

    def alert(ds, fp, first_seen, asked):
        return {**{n: None for n in ALERTS.schema.names}, "ds": ds, "model_name": model.name, "fingerprint": fp,
                "first_seen": first_seen, "retrain_requested": asked, "state": "firing", "rule": "r"}

    rows = [alert(date(2024, 2, 5), "a" * 16, date(2024, 2, 4), False),
            alert(date(2024, 2, 9), "a" * 16, date(2024, 2, 4), True),
            alert(date(2024, 2, 9), "b" * 16, date(2024, 2, 7), False)]
    lake.overwrite_rows(pa.Table.from_pylist(rows, schema=ALERTS.schema), ALERTS,
                        partitions={"model_name": [model.name], "ds": [date(2024, 2, 5), date(2024, 2, 9)]})
    assert change_began(lake, model, requested_by="a" * 16, ds=date(2024, 2, 9)) == date(2024, 2, 4)
    assert change_began(lake, model, requested_by="a" * 16, ds=date(2024, 2, 8)) is None  # asked later
    assert change_began(lake, model, requested_by="b" * 16, ds=date(2024, 2, 9)) is None  # never asked
    assert change_began(lake, model, requested_by=None, ds=date(2024, 2, 9)) is None
