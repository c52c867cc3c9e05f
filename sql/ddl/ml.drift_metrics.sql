-- ml.drift_metrics: Population-stability drift per model, day, column and slice, against the
-- training baseline and against the previous monitored day, with the thresholds that decided the
-- status.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/ml/drift_metrics'

create table if not exists ml.drift_metrics (
    ds date,
    model_name string,
    model_version int,
    column_name string,
    column_type string,
    baseline_id string,
    drift_type string,
    slice_key string,
    slice_value string,
    n_current bigint,
    n_baseline bigint,
    psi double,
    psi_noise_floor double,
    ks_stat double,
    ks_bound double,
    js_distance double,
    wasserstein double,
    wasserstein_bound double,
    chi2_pvalue double,
    null_rate_current double,
    null_rate_baseline double,
    status string,
    warn_threshold double,
    alert_threshold double
)
using delta
partitioned by (model_name, ds)
comment 'Population-stability drift per model, day, column and slice, against the training baseline and against the previous monitored day, with the thresholds that decided the status.'  -- noqa: LT05
tblproperties ('lakeops.contract.version' = '1')
