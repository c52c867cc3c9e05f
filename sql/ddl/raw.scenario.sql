-- raw.scenario: Ground truth of the drift injected by `lakeops generate --drift-start`.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/raw/scenario'

create table if not exists raw.scenario (
    column_name string,
    drift_kind string,
    start_ds date,
    end_ds date,
    detail string
)
using delta
comment 'Ground truth of the drift injected by `lakeops generate --drift-start`.'
tblproperties ('lakeops.contract.version' = '1')
