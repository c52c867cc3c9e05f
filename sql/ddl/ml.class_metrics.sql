-- ml.class_metrics: Multiclass models' quality per class, day and slice, one-vs-rest: realised
-- from the labels, estimated by CBPE from the calibrated class probabilities (its macro averages
-- are in ml.performance_metrics).
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/ml/class_metrics'

create table if not exists ml.class_metrics (
    ds date,
    model_name string,
    model_version int,
    kind string,
    slice_key string,
    slice_value string,
    class_name string,
    support double,
    predicted bigint,
    precision double,
    recall double,
    f1 double,
    auc double
)
using delta
partitioned by (model_name, ds)
comment "Multiclass models' quality per class, day and slice, one-vs-rest: realised from the labels, estimated by CBPE from the calibrated class probabilities (its macro averages are in ml.performance_metrics)."  -- noqa: LT05
tblproperties ("lakeops.contract.version" = "1")
