-- How has one column of a model drifted, day by day?
--
-- Serves: any model (binary, regression or multiclass).
--
-- Every statistic against the training baseline of the model version that
-- scored the day (whole population), beside the PSI against the previous
-- monitored day (null on the first day and on a new version's first day:
-- day-over-day PSI compares counts in the same version's buckets).
--
-- Parameters: :model, :column, :start and :end (days, inclusive).

with baseline_drift as (
    select *
    from ml.drift_metrics
    where
        model_name = :model
        and ds between :start and :end
        and column_name = :column
        and drift_type = 'baseline'
        and slice_key is null
),

day_over_day as (
    select
        ds,
        psi
    from ml.drift_metrics
    where
        model_name = :model
        and ds between :start and :end
        and column_name = :column
        and drift_type = 'consecutive'
        and slice_key is null
),

final as (
    select
        baseline_drift.ds,
        baseline_drift.model_version,
        baseline_drift.column_type,
        baseline_drift.n_current,
        baseline_drift.psi,
        day_over_day.psi as psi_vs_previous_day,
        baseline_drift.ks_stat,
        baseline_drift.js_distance,
        baseline_drift.wasserstein,
        baseline_drift.chi2_pvalue,
        baseline_drift.null_rate_current,
        baseline_drift.null_rate_baseline,
        baseline_drift.status,
        baseline_drift.warn_threshold,
        baseline_drift.alert_threshold
    from baseline_drift
    left join day_over_day
        on baseline_drift.ds = day_over_day.ds
)

select * from final
order by ds
