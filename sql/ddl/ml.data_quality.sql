-- ml.data_quality: One row per expectation per data-quality run and ds: what was checked, the
-- outcome, what was observed. A log: reruns add rows under a new job_run_id.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/ml/data_quality'

create table if not exists ml.data_quality (
    ds date,
    job_run_id string,
    job string,
    model_name string,
    suite string,
    stage string,
    expectation string,
    gx_expectation string,
    column_name string,
    policy string,
    success boolean,
    observed_value string,
    checked_at timestamp
)
using delta
partitioned by (ds)
comment 'One row per expectation per data-quality run and ds: what was checked, the outcome, what was observed. A log: reruns add rows under a new job_run_id.'  -- noqa: LT05
tblproperties ('lakeops.contract.version' = '1')
