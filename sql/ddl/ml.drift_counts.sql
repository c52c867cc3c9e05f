-- ml.drift_counts: The day's rows per frozen baseline bucket, per column and slice: with
-- ml.baselines, every PSI is recomputable, and consecutive drift reads yesterday's counts, not
-- yesterday's data.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/ml/drift_counts'

create table if not exists ml.drift_counts (
    ds date,
    model_name string,
    model_version int,
    column_name string,
    column_type string,
    slice_key string,
    slice_value string,
    n_rows bigint,
    n_null bigint,
    bin_counts array<bigint>,
    sketch_counts array<bigint>
)
using delta
partitioned by (model_name, ds)
comment "The day's rows per frozen baseline bucket, per column and slice: with ml.baselines, every PSI is recomputable, and consecutive drift reads yesterday's counts, not yesterday's data."  -- noqa: LT05
tblproperties ("lakeops.contract.version" = "1")
