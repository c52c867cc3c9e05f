-- Which alerts are open on a day, since when, and on what evidence?
--
-- Serves: any model (binary, regression or multiclass).
--
-- The model's ml.alerts rows of :ds: firing and pending alerts, and those
-- that resolved that day, worst first. evidence is JSON with the values that
-- decided the rule (e.g. each drifted feature's PSI beside its noise floor).
--
-- Parameters: :model, :ds.

with alerts as (
    select
        ds,
        rule,
        kind,
        slice_key,
        slice_value,
        state,
        severity,
        first_seen,
        firing_since,
        last_seen,
        value,
        threshold,
        summary,
        evidence,
        retrain_requested,
        notification,
        fingerprint
    from ml.alerts
    where
        model_name = :model
        and ds = :ds
),

ranked as (
    select
        *,
        case state when 'firing' then 0 when 'pending' then 1 else 2 end as state_order,
        case severity when 'critical' then 0 when 'warning' then 1 else 2 end as severity_order
    from alerts
),

final as (
    select
        rule,
        state,
        severity,
        first_seen,
        firing_since,
        last_seen,
        value,
        threshold,
        summary,
        evidence,
        retrain_requested,
        notification,
        fingerprint,
        coalesce(slice_key || '=' || slice_value, 'all') as population
    from ranked
    order by state_order, severity_order, rule, population
)

select * from final
