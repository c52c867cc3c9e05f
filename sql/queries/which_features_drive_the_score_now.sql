-- Which features drive a model's score now, against what drove it at training?
--
-- Serves: any model (binary, regression or multiclass).
--
-- The day's features ranked by mean |SHAP| (XGBoost's TreeSHAP on a seeded
-- sample of the day's rows), beside their rank and share on the training rows of
-- the version that scored the day; the day's top movers (the features whose
-- share of the attribution changed most) and its nDCG, SageMaker Clarify's
-- attribution drift score ('alert' below the threshold, 0.9 by default).
--
-- Parameters: :model, :ds.

with day_attribution as (
    select
        model_version,
        feature,
        rank as live_rank,
        reference_rank,
        rank_change,
        mean_abs_shap,
        share,
        reference_share,
        share_change,
        mover,
        ndcg,
        status,
        threshold,
        n_rows
    from ml.attribution_drift
    where model_name = :model and ds = :ds
),

reference as (
    select
        model_version,
        feature,
        mean_abs_shap as training_mean_abs_shap,
        n_rows as training_rows
    from ml.attribution_reference
    where model_name = :model
),

final as (
    select
        day_attribution.live_rank,
        day_attribution.feature,
        day_attribution.model_version,
        day_attribution.mean_abs_shap,
        reference.training_mean_abs_shap,
        day_attribution.share,
        day_attribution.reference_share,
        day_attribution.share_change,
        day_attribution.reference_rank,
        day_attribution.rank_change,
        day_attribution.mover,
        day_attribution.ndcg,
        day_attribution.status,
        day_attribution.threshold,
        day_attribution.n_rows,
        reference.training_rows,
        case
            when day_attribution.mover is null then null
            when day_attribution.share_change > 0 then 'drives more'
            else 'drives less'
        end as movement
    from day_attribution
    left join reference
        on
            day_attribution.model_version = reference.model_version
            and day_attribution.feature = reference.feature
)

select * from final
order by live_rank
