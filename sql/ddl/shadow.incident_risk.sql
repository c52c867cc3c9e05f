-- shadow.incident_risk: One row per entity and day scored by a challenger of model incident_risk
-- beside the champion (shadow scoring): the same columns as its predictions table; not served. Re-
-- scoring a ds partition replaces it.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/shadow/incident_risk'
--
-- A template: every model has its own shadow.<model> table of this shape. Its key
-- columns are the model's entity_keys (typed by key_types) and, for features, its
-- feature and label columns, all from conf/base/models/<model>.yaml; this file is
-- the one for model incident_risk. Regenerate with `python -m lakeops.sql.ddl` after
-- adding a model.

create table if not exists shadow.incident_risk (
    ds date,
    model_name string,
    model_version int,
    host_id string,
    score double,
    prediction int,
    mlflow_run_id string,
    reason_1 string,
    reason_1_contribution double,
    reason_2 string,
    reason_2_contribution double,
    reason_3 string,
    reason_3_contribution double
)
using delta
partitioned by (ds)
comment 'One row per entity and day scored by a challenger of model incident_risk beside the champion (shadow scoring): the same columns as its predictions table; not served. Re-scoring a ds partition replaces it.'  -- noqa: LT05
tblproperties ('lakeops.contract.version' = '1')
