-- ml.profile_metrics: A profile of every monitored column per model and day (whole population):
-- counts, moments, range and quantiles (from the sketch grid, within one grid cell).
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/ml/profile_metrics'

create table if not exists ml.profile_metrics (
    ds date,
    model_name string,
    model_version int,
    column_name string,
    column_type string,
    count bigint,
    nulls bigint,
    distinct_approx bigint,
    zeros bigint,
    mean double,
    stddev double,
    min double,
    max double,
    p05 double,
    p25 double,
    p50 double,
    p75 double,
    p95 double
)
using delta
partitioned by (model_name, ds)
comment 'A profile of every monitored column per model and day (whole population): counts, moments, range and quantiles (from the sketch grid, within one grid cell).'  -- noqa: LT05
tblproperties ('lakeops.contract.version' = '1')
