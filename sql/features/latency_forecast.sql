-- features.latency_forecast: one row per reporting host per ds in [:ds_start, :ds_end].
--
-- Parameters (bound by lakeops.prepare, never formatted into the text):
--   :observations, :labels   temporary views over the model's source tables
--                            (both raw.telemetry for this model)
--   :ds_start, :ds_end       the partitions being prepared
--   :lookback_days           bound but not needed: the rolling windows reach 6 days
--                            back, the config's lookback_days
--   :labels_through          the newest day whose telemetry has arrived (null: none)
--
-- The label is the host's observed p95 latency of the next day: null until that
-- day has arrived, and null when the host did not report it or its latency
-- scrape was lost (such rows are not training examples).

with telemetry as (
    select *
    from identifier(:observations)
    where ds between date_sub(:ds_start, 6) and :ds_end
),

next_day as (
    select
        host_id,
        ds,
        latency_p95_ms
    from identifier(:labels)
    where ds between date_add(:ds_start, 1) and date_add(:ds_end, 1)
),

rolling as (
    select
        *,
        avg(cpu_util_pct) over last_7_days as cpu_util_pct_mean_7d,
        max(cpu_util_pct) over last_7_days as cpu_util_pct_max_7d,
        avg(mem_util_pct) over last_7_days as mem_util_pct_mean_7d,
        avg(latency_p95_ms) over last_7_days as latency_p95_ms_mean_7d,
        max(latency_p95_ms) over last_7_days as latency_p95_ms_max_7d,
        min(latency_p95_ms) over last_7_days as latency_p95_ms_min_7d,
        -- Population spread: 0 (not null) for a host with a single day in the window.
        stddev_pop(latency_p95_ms) over last_7_days as latency_p95_ms_std_7d,
        avg(error_count) over last_7_days as error_count_mean_7d,
        count(*) over last_7_days as days_reported_7d
    from telemetry
    window last_7_days as (
        partition by host_id order by unix_date(ds) range between 6 preceding and current row
    )
),

final as (
    select
        rolling.ds,
        rolling.host_id,
        rolling.region,
        rolling.service_tier,
        rolling.os_version,
        cast(rolling.cpu_util_pct as double) as cpu_util_pct,
        cast(rolling.mem_util_pct as double) as mem_util_pct,
        cast(rolling.disk_util_pct as double) as disk_util_pct,
        cast(rolling.net_in_mbps as double) as net_in_mbps,
        cast(rolling.net_out_mbps as double) as net_out_mbps,
        cast(rolling.latency_p95_ms as double) as latency_p95_ms,
        cast(rolling.error_count as double) as error_count,
        cast(rolling.restart_count as double) as restart_count,
        cast(rolling.gc_pause_ms as double) as gc_pause_ms,
        cast(rolling.open_connections as double) as open_connections,
        cast(rolling.cpu_util_pct_mean_7d as double) as cpu_util_pct_mean_7d,
        cast(rolling.cpu_util_pct_max_7d as double) as cpu_util_pct_max_7d,
        cast(rolling.mem_util_pct_mean_7d as double) as mem_util_pct_mean_7d,
        cast(rolling.latency_p95_ms_mean_7d as double) as latency_p95_ms_mean_7d,
        cast(rolling.latency_p95_ms_max_7d as double) as latency_p95_ms_max_7d,
        cast(rolling.latency_p95_ms_min_7d as double) as latency_p95_ms_min_7d,
        cast(rolling.latency_p95_ms_std_7d as double) as latency_p95_ms_std_7d,
        cast(rolling.error_count_mean_7d as double) as error_count_mean_7d,
        cast(rolling.days_reported_7d as double) as days_reported_7d,
        case
            when date_add(rolling.ds, 1) <= :labels_through
                then cast(next_day.latency_p95_ms as double)
        end as latency_p95_ms_next_day
    from rolling
    left join next_day
        on rolling.host_id = next_day.host_id and date_add(rolling.ds, 1) = next_day.ds
    where rolling.ds between :ds_start and :ds_end
)

select * from final
