-- Is the model still good?
--
-- Serves: binary models (AUC); for a regression model read regression_error_by_day.sql.
--
-- Per day of the :days days ending :ds (whole population): the best figure
-- available for that day (realised AUC once every row is labelled, else the
-- CBPE estimate from calibrated scores), the floor it is judged against (the
-- version's holdout AUC at training, less three sampling standard errors at
-- that day's row count) and the verdict.
--
-- Parameters: :model, :ds (the last day), :days (how many days).

with estimated as (
    select
        ds,
        model_version,
        n_scored,
        auc as estimated_auc,
        auc_lower,
        auc_upper
    from ml.performance_metrics
    where
        model_name = :model
        and kind = 'estimated'
        and slice_key is null
        and ds between date_sub(:ds, :days - 1) and :ds
),

realised as (
    select
        ds,
        auc as realised_auc,
        label_coverage
    from ml.performance_metrics
    where
        model_name = :model
        and kind = 'realised'
        and slice_key is null
        and ds between date_sub(:ds, :days - 1) and :ds
),

reference as (
    select
        model_version,
        auc as holdout_auc,
        auc_sd,
        holdout_rows
    from ml.performance_reference
    where model_name = :model
),

judged as (
    select
        estimated.ds,
        estimated.model_version,
        estimated.n_scored,
        estimated.estimated_auc,
        estimated.auc_lower,
        estimated.auc_upper,
        realised.realised_auc,
        reference.holdout_auc,
        coalesce(realised.label_coverage, 0.0) as label_coverage,
        case
            when realised.label_coverage = 1.0 then 'realised' else 'estimated'
        end as judged_on,
        case
            when realised.label_coverage = 1.0 then realised.realised_auc
            else estimated.estimated_auc
        end as auc,
        reference.holdout_auc
        - 3 * reference.auc_sd * sqrt(reference.holdout_rows / estimated.n_scored) as auc_floor
    from estimated
    left join realised
        on estimated.ds = realised.ds
    left join reference
        on estimated.model_version = reference.model_version
),

final as (
    select
        ds,
        model_version,
        n_scored,
        label_coverage,
        judged_on,
        auc,
        estimated_auc,
        auc_lower,
        auc_upper,
        realised_auc,
        holdout_auc,
        auc_floor,
        case
            when auc_floor is null then 'no reference'
            when auc < auc_floor then 'worse than at training'
            else 'as good as at training'
        end as verdict
    from judged
)

select * from final
order by ds asc
