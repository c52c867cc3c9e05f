-- How far off is a regression model, day by day: estimated, then realised?
--
-- Serves: regression models (e.g. latency_forecast).
--
-- For each day in :start..:end (whole population): the direct-loss estimate
-- (DLE) of MAE and RMSE with its band, computed from features and
-- predictions before any label arrives; the realised MAE, RMSE, R2, bias
-- (mean of prediction - label) and interval coverage from the labels that
-- have arrived; whether the realised MAE fell within the band (once the day
-- is fully labelled), and the band's coverage over those days.
--
-- Parameters: :model, :start, :end.

with estimated as (
    select
        ds,
        model_version,
        n_scored,
        mae as estimated_mae,
        mae_lower,
        mae_upper,
        rmse as estimated_rmse,
        rmse_lower,
        rmse_upper
    from ml.performance_metrics
    where
        model_name = :model
        and kind = 'estimated'
        and slice_key is null
        and ds between :start and :end
        and mae is not null
),

realised as (
    select
        ds,
        n_labeled,
        label_coverage,
        mae as realised_mae,
        rmse as realised_rmse,
        r2,
        bias,
        interval_coverage,
        mae_in_band,
        rmse_in_band
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
        estimated.estimated_mae,
        estimated.mae_lower,
        estimated.mae_upper,
        realised.realised_mae,
        realised.mae_in_band,
        estimated.estimated_rmse,
        estimated.rmse_lower,
        estimated.rmse_upper,
        realised.realised_rmse,
        realised.rmse_in_band,
        realised.r2,
        realised.bias,
        realised.interval_coverage,
        avg(case when realised.mae_in_band then 1.0 when not realised.mae_in_band then 0.0 end)
            over () as mae_band_coverage
    from estimated
    left join realised
        on estimated.ds = realised.ds
)

select * from final
order by ds asc
