-- ml.job_runs: One row per job run, successful or not, with the lakeops release that ran it.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/ml/job_runs'

create table if not exists ml.job_runs (
    job_run_id string,
    job string,
    model_name string,
    ds_start date,
    ds_end date,
    status string,
    rows_in bigint,
    rows_out bigint,
    seconds double,
    error_message string,
    started_at timestamp,
    finished_at timestamp,
    lakeops_version string
)
using delta
comment 'One row per job run, successful or not, with the lakeops release that ran it.'
tblproperties ('lakeops.contract.version' = '2')
