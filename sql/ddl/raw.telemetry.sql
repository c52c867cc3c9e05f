-- raw.telemetry: One row per reporting host per day: daily aggregates of operational telemetry.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/raw/telemetry'

create table if not exists raw.telemetry (
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
    error_count bigint,
    restart_count bigint,
    gc_pause_ms double,
    open_connections bigint
)
using delta
partitioned by (ds)
comment 'One row per reporting host per day: daily aggregates of operational telemetry.'
tblproperties ('lakeops.contract.version' = '1')
