-- ml.performance_reference: Each model version's holdout quality at training time and the sampling
-- variation of its metrics: what performance estimates and their bands are built from.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/ml/performance_reference'

create table if not exists ml.performance_reference (
    model_name string,
    model_version int,
    holdout_start date,
    holdout_end date,
    holdout_rows bigint,
    threshold double,
    calibration_slope double,
    calibration_intercept double,
    auc double,
    f1 double,
    precision double,
    recall double,
    ece double,
    ece_uncalibrated double,
    auc_sd double,
    f1_sd double,
    precision_sd double,
    recall_sd double,
    problem_type string,
    mae double,
    rmse double,
    r2 double,
    label_mean double,
    abs_error_sd double,
    squared_error_sd double,
    interval_coverage_target double,
    interval_half_width double,
    dle_mae double,
    dle_rmse double,
    classes array<string>,
    accuracy double,
    logloss double,
    accuracy_sd double,
    calibration_temperature double,
    cbpe_accuracy double,
    cbpe_auc double,
    cbpe_f1 double
)
using delta
partitioned by (model_name, model_version)
comment "Each model version's holdout quality at training time and the sampling variation of its metrics: what performance estimates and their bands are built from."  -- noqa: LT05
tblproperties ("lakeops.contract.version" = "3")
