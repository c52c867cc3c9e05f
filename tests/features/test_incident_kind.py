"""features.incident_kind: the multiclass demo model's feature SQL on a small generated lake."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from lakeops.dates import date_range
from lakeops.features import prepare
from lakeops.lake.tables import features_spec
from lakeops.synth import generate

START, END = date(2024, 1, 1), date(2024, 1, 10)
#: The last day's label needs END + 1's incidents, which have not arrived: it stays null.
DAYS = date_range(date(2024, 1, 7), END)
HOSTS = 400


def test_the_label_is_the_kind_of_the_next_days_first_incident(spark, lake, settings):
    generate(lake, start=START, end=END, hosts=HOSTS, seed=11)
    model = settings.model("incident_kind")
    result = prepare(lake, model, days=DAYS, feature_sql=settings.feature_sql(model),
                     raw_suite=settings.suite(model.quality.raw),
                     features_suite=settings.suite(model.quality.features))
    assert result.write.rows == HOSTS * len(DAYS)
    assert all(o.passed for o in result.quality)
    features = lake.read("features.incident_kind").toPandas()
    assert list(features.columns) == features_spec(model).schema.names

    # The label recomputed with pandas: the kind of the host's first incident of ds + 1 (by opened_at,
    # then incident_id), none without one.
    incidents = lake.read("raw.incidents").toPandas().sort_values(["opened_at", "incident_id"])
    first = incidents.drop_duplicates(["host_id", "ds"]).set_index(["host_id", "ds"]).kind
    expected = [
        first.get((host, ds + timedelta(days=1)), "none") if ds < END else None
        for host, ds in zip(features.host_id, features.ds, strict=True)
    ]
    assert features.incident_kind_next_day.tolist() == expected
    labelled = features[features.ds < END].incident_kind_next_day
    assert set(labelled) <= set(model.classes) and labelled.notna().all()
    # Hosts with two incidents the next day exist, and their label is the first one's kind.
    assert incidents.duplicated(["host_id", "ds"]).any()
    # The kinds all occur, none dominates (about 95% of host-days).
    mix = labelled.value_counts(normalize=True)
    assert set(mix.index) == set(model.classes) and 0.9 < mix["none"] < 0.98
    assert pd.isna(features[features.ds == END].incident_kind_next_day).all()
