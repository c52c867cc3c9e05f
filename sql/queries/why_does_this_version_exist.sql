-- Why does each model version exist?
--
-- Serves: any model (binary, regression or multiclass).
--
-- One row per gate decision of :model: the challenger version, the decision,
-- and, when an alert asked for the retrain, that alert's rule, slice, since
-- when it fired and its summary (the ml.alerts row of the request: the newest
-- retrain request of that fingerprint on or before the decision's day). A
-- version with no requesting alert was trained on schedule or by hand.
--
-- Parameters: :model.

with validations as (
    select
        ds as decided_on,
        challenger_version,
        champion_version,
        decision,
        reason,
        challenger_auc,
        champion_auc,
        requested_by
    from ml.model_validations
    where model_name = :model
),

requests as (
    select
        ds as requested_on,
        fingerprint,
        rule,
        slice_key,
        slice_value,
        firing_since,
        summary
    from ml.alerts
    where
        model_name = :model
        and retrain_requested
),

matched as (
    select
        validations.*,
        requests.requested_on,
        requests.rule,
        requests.slice_key,
        requests.slice_value,
        requests.firing_since,
        requests.summary,
        row_number() over (
            partition by validations.decided_on, validations.challenger_version
            order by requests.requested_on desc
        ) as newest
    from validations
    left join requests
        on
            validations.requested_by = requests.fingerprint
            and validations.decided_on >= requests.requested_on
),

final as (
    select
        challenger_version as model_version,
        decided_on,
        decision,
        reason,
        challenger_auc,
        champion_version,
        champion_auc,
        requested_by,
        requested_on,
        rule as requesting_rule,
        firing_since,
        summary as alert_summary,
        case
            when requested_by is null then 'scheduled or manual training'
            else 'retrain requested by alert ' || rule
        end as why,
        case when rule is not null then coalesce(slice_key || '=' || slice_value, 'all') end as population
    from matched
    where newest = 1
)

select * from final
order by decided_on asc, model_version asc
