-- Which hosts did the latency forecast miss most on a day?
--
-- Serves: latency_forecast (a regression model; another regression model's
-- is the same query over its own predictions.<model> and features.<model>).
--
-- The :top rows of :ds with the largest absolute error once the label (the
-- host's p95 latency on the next day) has arrived: the prediction, its
-- interval and whether the label fell inside it, beside a few of the day's
-- features (today's latency and its 7-day mean, region, tier).
--
-- Parameters: :ds, :top (how many hosts).

with predicted as (
    select
        host_id,
        model_version,
        prediction,
        prediction_lower,
        prediction_upper
    from predictions.latency_forecast
    where ds = :ds
),

observed as (
    select
        host_id,
        region,
        service_tier,
        latency_p95_ms,
        latency_p95_ms_mean_7d,
        latency_p95_ms_next_day
    from features.latency_forecast
    where ds = :ds and latency_p95_ms_next_day is not null
),

errors as (
    select
        predicted.*,
        observed.region,
        observed.service_tier,
        observed.latency_p95_ms,
        observed.latency_p95_ms_mean_7d,
        observed.latency_p95_ms_next_day as actual,
        predicted.prediction - observed.latency_p95_ms_next_day as error,
        observed.latency_p95_ms_next_day between predicted.prediction_lower
        and predicted.prediction_upper as inside_interval
    from predicted
    inner join observed
        on predicted.host_id = observed.host_id
),

final as (
    select
        *,
        row_number() over (order by abs(error) desc, host_id asc) as miss_rank
    from errors
)

select * from final
where miss_rank <= :top
order by miss_rank
