-- ml.attribution_reference: Each model version's feature attribution at training time: mean |SHAP|
-- per feature on a seeded sample of its training rows, frozen with the version; what attribution
-- drift compares against.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/ml/attribution_reference'

create table if not exists ml.attribution_reference (
    model_name string,
    model_version int,
    feature string,
    mean_abs_shap double,
    share double,
    rank int,
    n_rows bigint
)
using delta
partitioned by (model_name, model_version)
comment "Each model version's feature attribution at training time: mean |SHAP| per feature on a seeded sample of its training rows, frozen with the version; what attribution drift compares against."  -- noqa: LT05
tblproperties ("lakeops.contract.version" = "1")
