-- Estimated vs realised performance, by day.
--
-- Serves: binary and multiclass models (CBPE's AUC and F1: a multiclass model's are macro
-- averages over its classes); regression_error_by_day.sql is the regression counterpart.
--
-- For each day in :start..:end (whole population): the CBPE estimate of AUC
-- and F1 with its band, the realised values from the labels that have
-- arrived, whether the realised value fell within the band (once the day is
-- fully labelled), and the band's coverage over the fully labelled days of
-- the range.
--
-- Parameters: :model, :start, :end.

with estimated as (
    select
        ds,
        model_version,
        n_scored,
        auc as estimated_auc,
        auc_lower,
        auc_upper,
        f1 as estimated_f1,
        f1_lower,
        f1_upper
    from ml.performance_metrics
    where
        model_name = :model
        and kind = 'estimated'
        and slice_key is null
        and ds between :start and :end
),

realised as (
    select
        ds,
        n_labeled,
        label_coverage,
        auc as realised_auc,
        f1 as realised_f1,
        auc_in_band,
        f1_in_band
    from ml.performance_metrics
    where
        model_name = :model
        and kind = 'realised'
        and slice_key is null
        and ds between :start and :end
),

final as (
    select
        estimated.ds,
        estimated.model_version,
        estimated.n_scored,
        realised.n_labeled,
        realised.label_coverage,
        estimated.estimated_auc,
        estimated.auc_lower,
        estimated.auc_upper,
        realised.realised_auc,
        realised.auc_in_band,
        estimated.estimated_f1,
        estimated.f1_lower,
        estimated.f1_upper,
        realised.realised_f1,
        realised.f1_in_band,
        avg(case when realised.auc_in_band then 1.0 when not realised.auc_in_band then 0.0 end)
            over () as auc_band_coverage
    from estimated
    left join realised
        on estimated.ds = realised.ds
)

select * from final
order by ds asc
