-- ml.baselines: Reference distributions frozen at training time, per model version, column and
-- slice: bin edges or categories and the proportion of rows in each, so any PSI can be recomputed
-- by hand.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/ml/baselines'

create table if not exists ml.baselines (
    model_name string,
    model_version int,
    column_name string,
    column_type string,
    slice_key string,
    slice_value string,
    bin_index int,
    lower double,
    upper double,
    category string,
    count bigint,
    proportion double,
    baseline_rows bigint,
    ds_start date,
    ds_end date
)
using delta
partitioned by (model_name, model_version)
comment 'Reference distributions frozen at training time, per model version, column and slice: bin edges or categories and the proportion of rows in each, so any PSI can be recomputed by hand.'  -- noqa: LT05
tblproperties ('lakeops.contract.version' = '1')
