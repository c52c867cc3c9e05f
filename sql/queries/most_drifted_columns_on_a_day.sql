-- Which columns of a model drifted most on one day?
--
-- Serves: any model (binary, regression or multiclass).
--
-- Columns ranked by PSI against the training baseline (whole population),
-- with the day-over-day PSI and the slice (e.g. region) that drifted most.
--
-- Parameters: :model, :ds.

with day_drift as (
    select
        model_version,
        column_name,
        column_type,
        drift_type,
        slice_key,
        slice_value,
        psi,
        status
    from ml.drift_metrics
    where model_name = :model and ds = :ds
),

whole_population as (
    select *
    from day_drift
    where drift_type = 'baseline' and slice_key is null
),

day_over_day as (
    select
        column_name,
        psi
    from day_drift
    where drift_type = 'consecutive' and slice_key is null
),

slices_ranked as (
    select
        column_name,
        slice_key,
        slice_value,
        psi,
        row_number() over (
            partition by column_name order by psi desc, slice_key asc, slice_value asc
        ) as rank_in_column
    from day_drift
    where drift_type = 'baseline' and slice_key is not null
),

worst_slice as (
    select *
    from slices_ranked
    where rank_in_column = 1
),

final as (
    select
        whole_population.column_name,
        whole_population.column_type,
        whole_population.model_version,
        whole_population.psi,
        whole_population.status,
        day_over_day.psi as psi_vs_previous_day,
        worst_slice.psi as worst_slice_psi,
        row_number() over (
            order by whole_population.psi desc, whole_population.column_name asc
        ) as drift_rank,
        concat(worst_slice.slice_key, '=', worst_slice.slice_value) as worst_slice
    from whole_population
    left join day_over_day
        on whole_population.column_name = day_over_day.column_name
    left join worst_slice
        on whole_population.column_name = worst_slice.column_name
)

select * from final
order by drift_rank
