"""The baselines' quantiles: a small training set is summed up on the driver, exactly."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from lakeops.train.baselines import exact_quantiles

PROBS = [0.001, 0.1, 0.25, 0.3, 0.5, 0.7, 0.9, 0.999, 1.0]


def test_exact_quantiles_by_hand():
    # Ranks ceil(p * n) of the sorted non-null values; nulls are left out.
    values = pa.array([5.0, None, 1.0, 4.0, 2.0, 3.0, None, 10.0, 7.0, 8.0, 9.0, 6.0])
    assert exact_quantiles(values, [0.1, 0.3, 0.5, 0.55, 1.0]) == [1.0, 3.0, 5.0, 6.0, 10.0]
    assert exact_quantiles(pa.array([None, None], pa.float64()), [0.5]) == []


def test_exact_quantiles_match_numpy_and_spark_without_error(spark):
    rng = np.random.default_rng(3)
    x = np.round(rng.lognormal(3, 1, 5_000), 2)  # ties, a long tail
    x[rng.choice(len(x), 40, replace=False)] = np.nan
    values = pa.array(x, from_pandas=True)  # NaN as null, as a feature column holds them
    found = exact_quantiles(values, PROBS)
    assert found == np.quantile(x[~np.isnan(x)], PROBS, method="inverted_cdf").tolist()
    df = spark.createDataFrame(pa.table({"x": values}).to_pandas())
    assert found == pytest.approx(df.approxQuantile("x", PROBS, 0.0), abs=0)
