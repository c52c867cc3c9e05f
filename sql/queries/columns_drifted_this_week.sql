-- Which columns of a model drifted this week?
--
-- Serves: any model (binary, regression or multiclass).
--
-- The seven days ending :ds: per column that reached warn or alert on any
-- of them (against the training baseline, whole population), how many days
-- it did, when it first did, its largest PSI and its status on the last day.
--
-- Parameters: :model, :ds (the week's last day).

with week_drift as (
    select
        ds,
        column_name,
        psi,
        status
    from ml.drift_metrics
    where
        model_name = :model
        and ds between date_sub(:ds, 6) and :ds
        and drift_type = 'baseline'
        and slice_key is null
),

per_column as (
    select
        column_name,
        count(*) as days_monitored,
        sum(case when status = 'warn' then 1 else 0 end) as days_warn,
        sum(case when status = 'alert' then 1 else 0 end) as days_alert,
        min(case when status != 'ok' then ds end) as first_drifted_ds,
        max(psi) as max_psi
    from week_drift
    group by column_name
),

last_day as (
    select
        column_name,
        status as status_on_last_day
    from week_drift
    where ds = :ds
),

final as (
    select
        per_column.column_name,
        per_column.days_monitored,
        per_column.days_warn,
        per_column.days_alert,
        per_column.first_drifted_ds,
        per_column.max_psi,
        last_day.status_on_last_day
    from per_column
    left join last_day
        on per_column.column_name = last_day.column_name
    where per_column.days_warn + per_column.days_alert > 0
)

select * from final
order by days_alert desc, max_psi desc, column_name asc
