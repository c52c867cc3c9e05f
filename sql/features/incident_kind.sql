-- features.incident_kind: one row per reporting host per ds in [:ds_start, :ds_end].
--
-- Parameters (bound by lakeops.prepare, never formatted into the text):
--   :observations, :labels   temporary views over the model's source tables
--   :ds_start, :ds_end       the partitions being prepared
--   :lookback_days           how far back incident history reaches
--   :labels_through          the newest day whose incidents have arrived (null: none)
--
-- The features are incident_risk's. The label is the kind of the host's first
-- incident of the next day (by opened_at, then incident_id), 'none' when it had
-- none, null until that day's incidents have arrived; null too where that
-- incident has no kind (incidents generated before raw.incidents had kinds).
--
-- Incidents of a day are only used as history from the next day on: today's
-- incidents may not have arrived when today is scored.

with telemetry as (
    select *
    from identifier(:observations)
    where ds between date_sub(:ds_start, 6) and :ds_end
),

incident_days as (
    select
        host_id,
        ds,
        count(*) as incident_count
    from identifier(:labels)
    where ds between date_sub(:ds_start, :lookback_days) and date_add(:ds_end, 1)
    group by host_id, ds
),

ranked_incidents as (
    select
        host_id,
        ds,
        kind,
        row_number() over (partition by host_id, ds order by opened_at, incident_id) as incident_rank
    from identifier(:labels)
    where ds between date_add(:ds_start, 1) and date_add(:ds_end, 1)
),

first_incidents as (
    select
        host_id,
        ds,
        kind
    from ranked_incidents
    where incident_rank = 1
),

rolling as (
    select
        *,
        avg(cpu_util_pct) over last_7_days as cpu_util_pct_mean_7d,
        max(cpu_util_pct) over last_7_days as cpu_util_pct_max_7d,
        avg(mem_util_pct) over last_7_days as mem_util_pct_mean_7d,
        avg(latency_p95_ms) over last_7_days as latency_p95_ms_mean_7d,
        max(latency_p95_ms) over last_7_days as latency_p95_ms_max_7d,
        avg(error_count) over last_7_days as error_count_mean_7d,
        sum(restart_count) over last_7_days as restart_count_sum_7d,
        count(*) over last_7_days as days_reported_7d
    from telemetry
    window last_7_days as (
        partition by host_id order by unix_date(ds) range between 6 preceding and current row
    )
),

history as (
    select
        rolling.host_id,
        rolling.ds,
        count(incident_days.ds) as incidents_30d,
        max(incident_days.ds) as last_incident_ds
    from rolling
    left join incident_days
        on
            rolling.host_id = incident_days.host_id
            and rolling.ds > incident_days.ds
            and date_sub(rolling.ds, :lookback_days) <= incident_days.ds
    where rolling.ds between :ds_start and :ds_end
    group by rolling.host_id, rolling.ds
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
        cast(rolling.error_count_mean_7d as double) as error_count_mean_7d,
        cast(rolling.restart_count_sum_7d as double) as restart_count_sum_7d,
        cast(rolling.days_reported_7d as double) as days_reported_7d,
        cast(history.incidents_30d as double) as incidents_30d,
        cast(datediff(rolling.ds, history.last_incident_ds) as double) as days_since_last_incident,
        case
            when date_add(rolling.ds, 1) <= :labels_through
                then case when next_day.host_id is null then 'none' else next_day.kind end
        end as incident_kind_next_day
    from rolling
    inner join history
        on rolling.host_id = history.host_id and rolling.ds = history.ds
    left join first_incidents as next_day
        on rolling.host_id = next_day.host_id and date_add(rolling.ds, 1) = next_day.ds
    where rolling.ds between :ds_start and :ds_end
)

select * from final
