-- ml.attribution_drift: Attribution drift per model, day and feature: mean |SHAP| on a seeded
-- sample of the day against the training reference of the version that scored it, the rank and
-- share changes, the top movers and the day's nDCG (SageMaker Clarify's, over all features),
-- flagged below the threshold.
--
-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do
-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).
-- To register the lakehouse's table rather than create one: location '<lake>/ml/attribution_drift'

create table if not exists ml.attribution_drift (
    ds date,
    model_name string,
    model_version int,
    feature string,
    mean_abs_shap double,
    share double,
    rank int,
    reference_mean_abs_shap double,
    reference_share double,
    reference_rank int,
    rank_change int,
    share_change double,
    mover int,
    ndcg double,
    status string,
    threshold double,
    n_rows bigint
)
using delta
partitioned by (model_name, ds)
comment "Attribution drift per model, day and feature: mean |SHAP| on a seeded sample of the day against the training reference of the version that scored it, the rank and share changes, the top movers and the day's nDCG (SageMaker Clarify's, over all features), flagged below the threshold."  -- noqa: LT05
tblproperties ("lakeops.contract.version" = "1")
