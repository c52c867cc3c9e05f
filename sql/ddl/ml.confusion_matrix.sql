-- ml.confusion_matrix: Multiclass models' confusion matrix per day and slice, one row per (actual,
-- predicted) class: counted from the labels (realised) or expected from the calibrated
-- probabilities (estimated).
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/ml/confusion_matrix'

create table if not exists ml.confusion_matrix (
    ds date,
    model_name string,
    model_version int,
    kind string,
    slice_key string,
    slice_value string,
    actual string,
    predicted string,
    rows double
)
using delta
partitioned by (model_name, ds)
comment "Multiclass models' confusion matrix per day and slice, one row per (actual, predicted) class: counted from the labels (realised) or expected from the calibrated probabilities (estimated)."  -- noqa: LT05
tblproperties ("lakeops.contract.version" = "1")
