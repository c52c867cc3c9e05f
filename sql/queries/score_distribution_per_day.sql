-- How are the scores of predictions.incident_risk distributed, day by day?
--
-- Serves: incident_risk (a binary model's probability scores).
--
-- Ten score buckets of width 0.1 per day: the rows in each, their share of
-- the day, and how many the model flagged (prediction = 1). Another model's
-- distribution is the same query over its own predictions.<model> table.
--
-- Parameters: :start and :end (days, inclusive).

with scores as (
    select
        ds,
        model_version,
        score,
        prediction
    from predictions.incident_risk
    where ds between :start and :end
),

bucketed as (
    select
        ds,
        model_version,
        prediction,
        least(cast(floor(score * 10) as int), 9) as score_bucket
    from scores
),

per_bucket as (
    select
        ds,
        model_version,
        score_bucket,
        count(*) as n_rows,
        sum(prediction) as n_flagged
    from bucketed
    group by ds, model_version, score_bucket
),

final as (
    select
        ds,
        model_version,
        n_rows,
        n_flagged,
        cast(score_bucket as double) / 10 as score_from,
        cast(score_bucket + 1 as double) / 10 as score_to,
        n_rows / sum(n_rows) over (partition by ds) as share_of_day
    from per_bucket
)

select * from final
order by ds, score_from
