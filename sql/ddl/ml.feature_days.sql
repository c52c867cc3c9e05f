-- ml.feature_days: One row per model and prepared day: whether every source partition of the
-- lookback window before it was present. Training leaves out days whose lookback was incomplete
-- (warm-up values).
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/ml/feature_days'

create table if not exists ml.feature_days (
    model_name string,
    ds date,
    lookback_days int,
    lookback_start date,
    source_days_expected int,
    source_days_present int,
    lookback_complete boolean,
    job_run_id string
)
using delta
partitioned by (model_name, ds)
comment 'One row per model and prepared day: whether every source partition of the lookback window before it was present. Training leaves out days whose lookback was incomplete (warm-up values).'  -- noqa: LT05
tblproperties ('lakeops.contract.version' = '1')
