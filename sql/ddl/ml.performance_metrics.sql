-- ml.performance_metrics: Model quality per model, day and slice: realised metrics from the labels
-- that have arrived (recomputed when late labels change a day) and CBPE estimates from calibrated
-- scores, with a band.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/ml/performance_metrics'

create table if not exists ml.performance_metrics (
    ds date,
    model_name string,
    model_version int,
    kind string,
    slice_key string,
    slice_value string,
    n_scored bigint,
    n_labeled bigint,
    label_coverage double,
    positive_rate double,
    threshold double,
    auc double,
    pr_auc double,
    logloss double,
    brier double,
    ece double,
    precision double,
    recall double,
    f1 double,
    auc_lower double,
    auc_upper double,
    f1_lower double,
    f1_upper double,
    estimated_auc double,
    estimated_f1 double,
    auc_in_band boolean,
    f1_in_band boolean,
    features_version bigint,
    mae double,
    rmse double,
    r2 double,
    bias double,
    mape double,
    interval_coverage double,
    label_mean double,
    prediction_mean double,
    mae_lower double,
    mae_upper double,
    rmse_lower double,
    rmse_upper double,
    estimated_mae double,
    estimated_rmse double,
    mae_in_band boolean,
    rmse_in_band boolean,
    accuracy double,
    weighted_f1 double,
    accuracy_lower double,
    accuracy_upper double,
    estimated_accuracy double,
    accuracy_in_band boolean
)
using delta
partitioned by (model_name, ds)
comment 'Model quality per model, day and slice: realised metrics from the labels that have arrived (recomputed when late labels change a day) and CBPE estimates from calibrated scores, with a band.'  -- noqa: LT05
tblproperties ('lakeops.contract.version' = '3')
