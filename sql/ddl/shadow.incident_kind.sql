-- shadow.incident_kind: One row per entity and day scored by a challenger of model incident_kind
-- beside the champion (shadow scoring): the same columns as its predictions table; not served. Re-
-- scoring a ds partition replaces it.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/shadow/incident_kind'
--
-- A template: every model has its own shadow.<model> table of this shape. Its key
-- columns are the model's entity_keys (typed by key_types) and, for features, its
-- feature and label columns, all from conf/base/models/<model>.yaml; this file is
-- the one for model incident_kind. Regenerate with `python -m lakeops.sql.ddl` after
-- adding a model.

create table if not exists shadow.incident_kind (
    ds date,
    model_name string,
    model_version int,
    host_id string,
    prediction string,
    confidence double,
    score_none double,
    score_compute double,
    score_memory double,
    score_disk double,
    score_network double,
    mlflow_run_id string
)
using delta
partitioned by (ds)
comment 'One row per entity and day scored by a challenger of model incident_kind beside the champion (shadow scoring): the same columns as its predictions table; not served. Re-scoring a ds partition replaces it.'  -- noqa: LT05
tblproperties ('lakeops.contract.version' = '1')
