-- features.incident_kind: Features and label of model incident_kind, one row per host_id and ds.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/features/incident_kind'
--
-- A template: every model has its own features.<model> table of this shape. Its key
-- columns are the model's entity_keys (typed by key_types) and, for features, its
-- feature and label columns, all from conf/base/models/<model>.yaml; this file is
-- the one for model incident_kind. Regenerate with `python -m lakeops.sql.ddl` after
-- adding a model.

create table if not exists features.incident_kind (
    ds date,
    host_id string,
    region string,
    service_tier string,
    os_version string,
    cpu_util_pct double,
    mem_util_pct double,
    disk_util_pct double,
    net_in_mbps double,
    net_out_mbps double,
    latency_p95_ms double,
    error_count double,
    restart_count double,
    gc_pause_ms double,
    open_connections double,
    cpu_util_pct_mean_7d double,
    cpu_util_pct_max_7d double,
    mem_util_pct_mean_7d double,
    latency_p95_ms_mean_7d double,
    latency_p95_ms_max_7d double,
    error_count_mean_7d double,
    restart_count_sum_7d double,
    days_reported_7d double,
    incidents_30d double,
    days_since_last_incident double,
    incident_kind_next_day string
)
using delta
partitioned by (ds)
comment 'Features and label of model incident_kind, one row per host_id and ds.'
tblproperties ('lakeops.contract.version' = '1')
