-- ml.baseline_sketches: A fine grid (about a thousand quantiles) per numeric column of the
-- training rows, and the rows in each cell: what KS and Wasserstein distances are computed
-- against.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/ml/baseline_sketches'

create table if not exists ml.baseline_sketches (
    model_name string,
    model_version int,
    column_name string,
    column_type string,
    slice_key string,
    slice_value string,
    edges array<double>,
    counts array<bigint>,
    n bigint,
    min double,
    max double
)
using delta
partitioned by (model_name, model_version)
comment 'A fine grid (about a thousand quantiles) per numeric column of the training rows, and the rows in each cell: what KS and Wasserstein distances are computed against.'  -- noqa: LT05
tblproperties ('lakeops.contract.version' = '1')
