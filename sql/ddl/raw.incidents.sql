-- raw.incidents: One row per incident, partitioned by the day it was opened; arrives late.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/raw/incidents'

create table if not exists raw.incidents (
    ds date,
    incident_id string,
    host_id string,
    severity string,
    opened_at timestamp,
    kind string
)
using delta
partitioned by (ds)
comment 'One row per incident, partitioned by the day it was opened; arrives late.'
tblproperties ('lakeops.contract.version' = '2')
