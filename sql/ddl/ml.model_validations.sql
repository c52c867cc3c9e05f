-- ml.model_validations: One row per champion/challenger gate decision, with both models' holdout
-- metrics and the outcome of every gate threshold.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/ml/model_validations'

create table if not exists ml.model_validations (
    ds date,
    model_name string,
    job_run_id string,
    mode string,
    challenger_version int,
    champion_version int,
    holdout_start date,
    holdout_end date,
    holdout_rows bigint,
    challenger_auc double,
    challenger_logloss double,
    challenger_pr_auc double,
    champion_auc double,
    champion_logloss double,
    champion_pr_auc double,
    challenger_brier double,
    champion_brier double,
    min_auc double,
    max_auc_drop double,
    max_logloss_increase_pct double,
    max_brier_increase_pct double,
    passed boolean,
    decision string,
    reason string,
    requested_by string,
    decided_at timestamp,
    problem_type string,
    checks array<struct<metric: string, slice_key: string, slice_value: string, higher_is_better: boolean, threshold: double, min_absolute_change: double, min_relative_change: double, challenger: double, champion: double, rows: bigint, passed: boolean, note: string>>,  -- noqa: LT05
    challenger_metrics array<struct<metric: string, value: double>>,
    champion_metrics array<struct<metric: string, value: double>>
)
using delta
partitioned by (ds)
comment "One row per champion/challenger gate decision, with both models' holdout metrics and the outcome of every gate threshold."  -- noqa: LT05
tblproperties ("lakeops.contract.version" = "2")
