-- ml.alerts: Alert state per model, day, rule and slice (a row while pending, firing, and on the
-- day it resolves), with the evidence, a stable fingerprint, whether it asked for a retrain and
-- what the receivers answered. Rerunning a day replaces that day's rows with the same ones.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/ml/alerts'

create table if not exists ml.alerts (
    ds date,
    model_name string,
    model_version int,
    rule string,
    kind string,
    slice_key string,
    slice_value string,
    fingerprint string,
    state string,
    severity string,
    met boolean,
    value double,
    threshold double,
    first_seen date,
    firing_since date,
    last_seen date,
    quiet_days int,
    summary string,
    evidence string,
    retrain_requested boolean,
    notification string,
    notification_attempts int,
    notification_error string
)
using delta
partitioned by (model_name, ds)
comment "Alert state per model, day, rule and slice (a row while pending, firing, and on the day it resolves), with the evidence, a stable fingerprint, whether it asked for a retrain and what the receivers answered. Rerunning a day replaces that day's rows with the same ones."  -- noqa: LT05
tblproperties ("lakeops.contract.version" = "1")
