-- features.latency_breach: one row per reporting host per ds in [:ds_start, :ds_end],
-- keyed by (region, host_num). The label is tomorrow's latency, from the same table.

with telemetry as (
    select
        *,
        cast(substring(host_id, 6) as bigint) as host_num
    from identifier(:observations)
    where ds between date_sub(:ds_start, 6) and :ds_end
),

tomorrow as (
    select
        host_id,
        date_sub(ds, 1) as ds,
        latency_p95_ms as next_latency
    from identifier(:labels)
    where ds between date_add(:ds_start, 1) and date_add(:ds_end, 1)
),

rolling as (
    select
        *,
        avg(latency_p95_ms) over last_7_days as latency_p95_ms_mean_7d
    from telemetry
    window last_7_days as (
        partition by host_id order by unix_date(ds) range between 6 preceding and current row
    )
),

final as (
    select
        rolling.ds,
        rolling.region,
        rolling.host_num,
        rolling.service_tier,
        cast(rolling.cpu_util_pct as double) as cpu_util_pct,
        cast(rolling.latency_p95_ms as double) as latency_p95_ms,
        cast(rolling.latency_p95_ms_mean_7d as double) as latency_p95_ms_mean_7d,
        cast(rolling.error_count as double) as error_count,
        case
            when date_add(rolling.ds, 1) <= :labels_through and tomorrow.next_latency is not null
                then cast(tomorrow.next_latency > 150 as int)
        end as breach_next_day
    from rolling
    left join tomorrow
        on tomorrow.host_id = rolling.host_id and tomorrow.ds = rolling.ds
    where rolling.ds between :ds_start and :ds_end
)

select * from final
