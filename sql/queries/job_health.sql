-- How healthy were the lakeops jobs over the last :days days?
--
-- Serves: any model (binary, regression or multiclass).
--
-- Per job and model, the runs started (UTC) in the :days days ending :ds:
-- how many, how many failed, the last failure and its message, the last
-- run's status, and run times.
--
-- Parameters: :ds (the last day), :days (how many days, >= 1).

with runs as (
    select
        job,
        model_name,
        status,
        seconds,
        error_message,
        started_at
    from ml.job_runs
    where to_date(started_at) between date_sub(:ds, :days - 1) and :ds
),

runs_by_recency as (
    select
        *,
        row_number() over (
            partition by job, model_name order by started_at desc
        ) as recency
    from runs
),

failures_by_recency as (
    select
        *,
        row_number() over (
            partition by job, model_name order by started_at desc
        ) as recency
    from runs
    where status = 'failed'
),

per_job as (
    select
        job,
        model_name,
        count(*) as runs,
        sum(case when status = 'failed' then 1 else 0 end) as failures,
        avg(seconds) as mean_seconds,
        max(seconds) as max_seconds
    from runs
    group by job, model_name
),

final as (
    select
        per_job.job,
        per_job.model_name,
        per_job.runs,
        per_job.failures,
        last_run.status as last_status,
        last_run.started_at as last_started_at,
        last_failure.started_at as last_failure_at,
        last_failure.error_message as last_failure_message,
        per_job.mean_seconds,
        per_job.max_seconds
    from per_job
    left join runs_by_recency as last_run
        on
            per_job.job = last_run.job
            and per_job.model_name <=> last_run.model_name
            and last_run.recency = 1
    left join failures_by_recency as last_failure
        on
            per_job.job = last_failure.job
            and per_job.model_name <=> last_failure.model_name
            and last_failure.recency = 1
)

select * from final
order by failures desc, job asc, model_name asc
