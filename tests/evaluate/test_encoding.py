"""How a model's input encoding is written twice: Spark columns (training) and Arrow batches (tasks)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lakeops.evaluate.encoding import encode_arrow


def test_arrow_encoding_matches_the_spark_encoder(spark):
    from lakeops.evaluate.encoding import encode

    rows = [(1.5, 1, "x"), (None, 2, None), (3.0, None, "y"), (4.0, 4, "zz")]
    batch = pa.RecordBatch.from_pylist([dict(zip("anc", r, strict=True)) for r in rows],
                                       schema=pa.schema([("a", pa.float64()), ("n", pa.int64()), ("c", pa.string())]))
    categories = {"c": ["y", "x"]}
    got = encode_arrow(batch, ["a", "n", "c"], categories)
    expected = np.array([[1.5, 1, 1], [np.nan, 2, np.nan], [3.0, np.nan, 0], [4.0, 4, 2]], dtype=np.float32)
    np.testing.assert_array_equal(got, expected)  # unseen "zz" is the OTHER code (2), null is NaN

    df = spark.createDataFrame(rows, "a double, n long, c string")
    spark_side = encode(df, categories).select("a", df["n"].cast("double"), "c").toPandas()
    np.testing.assert_array_equal(got, spark_side.to_numpy(dtype=np.float32))

