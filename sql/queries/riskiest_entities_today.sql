-- Which hosts are most likely to have an incident tomorrow?
--
-- Serves: incident_risk (a binary model; another's is the same query over its own tables).
--
-- The :top highest scores of predictions.incident_risk on :ds, with the
-- model version that scored them, each host's three reason codes (the
-- features that pushed its margin most, signed, in log-odds: score.reasons
-- in the model's config) and a few of the day's features.
--
-- Parameters: :ds, :top (how many hosts).

with todays_scores as (
    select
        host_id,
        model_version,
        score,
        prediction,
        reason_1,
        reason_1_contribution,
        reason_2,
        reason_2_contribution,
        reason_3,
        reason_3_contribution
    from predictions.incident_risk
    where ds = :ds
),

todays_features as (
    select
        host_id,
        region,
        service_tier,
        latency_p95_ms,
        error_count,
        incidents_30d,
        days_since_last_incident
    from features.incident_risk
    where ds = :ds
),

ranked as (
    select
        *,
        row_number() over (order by score desc, host_id asc) as risk_rank
    from todays_scores
),

final as (
    select
        ranked.risk_rank,
        ranked.host_id,
        ranked.score,
        ranked.prediction,
        ranked.model_version,
        ranked.reason_1,
        ranked.reason_1_contribution,
        ranked.reason_2,
        ranked.reason_2_contribution,
        ranked.reason_3,
        ranked.reason_3_contribution,
        todays_features.region,
        todays_features.service_tier,
        todays_features.latency_p95_ms,
        todays_features.error_count,
        todays_features.incidents_30d,
        todays_features.days_since_last_incident
    from ranked
    left join todays_features
        on ranked.host_id = todays_features.host_id
    where ranked.risk_rank <= :top
)

select * from final
order by risk_rank
