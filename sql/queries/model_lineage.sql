-- Which model version was trained on which days, passed which gate, and
-- scored which days?
--
-- Serves: incident_risk (the days a version scored come from its predictions table;
-- for another model, name that model's predictions.<model> instead).
--
-- What the lake holds: the training window of each version (ml.baselines),
-- its champion/challenger decisions (ml.model_validations) and the days it
-- scored (predictions.incident_risk). Which Delta version of the feature
-- table it was trained on is an MLflow tag of its run, not a lake table:
-- look it up with mlflow_run_id (the run's lakeops.features_version tag).
--
-- Parameters: :model.

with baselines as (
    select
        model_version,
        ds_start,
        ds_end,
        baseline_rows
    from ml.baselines
    where model_name = :model
),

validations as (
    select
        challenger_version,
        ds,
        decision,
        reason,
        challenger_auc,
        champion_version,
        champion_auc,
        decided_at
    from ml.model_validations
    where model_name = :model
),

predictions as (
    select
        ds,
        model_version,
        mlflow_run_id
    from predictions.incident_risk
    where model_name = :model
),

trained as (
    select
        model_version,
        min(ds_start) as train_start,
        max(ds_end) as train_end,
        max(baseline_rows) as train_rows
    from baselines
    group by model_version
),

last_decision as (
    select
        *,
        row_number() over (
            partition by challenger_version order by decided_at desc
        ) as recency
    from validations
),

scored as (
    select
        model_version,
        min(ds) as first_scored_ds,
        max(ds) as last_scored_ds,
        count(distinct ds) as days_scored,
        max(mlflow_run_id) as mlflow_run_id
    from predictions
    group by model_version
),

final as (
    select
        trained.model_version,
        trained.train_start,
        trained.train_end,
        trained.train_rows,
        last_decision.ds as decided_ds,
        last_decision.decision,
        last_decision.challenger_auc,
        last_decision.champion_version,
        last_decision.champion_auc,
        last_decision.reason,
        scored.first_scored_ds,
        scored.last_scored_ds,
        scored.mlflow_run_id,
        coalesce(scored.days_scored, 0) as days_scored
    from trained
    left join last_decision
        on
            trained.model_version = last_decision.challenger_version
            and last_decision.recency = 1
    left join scored
        on trained.model_version = scored.model_version
)

select * from final
order by model_version
