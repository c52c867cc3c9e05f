-- Which data-quality expectations failed, and what was observed?
--
-- Serves: any model (binary, regression or multiclass).
--
-- Every failed expectation of a model's suites for the days in range, with
-- its policy (fail stopped the job, warn was recorded only), what was
-- observed and the outcome of the job run that checked it.
--
-- Parameters: :model, :start and :end (days, inclusive).

with checks as (
    select *
    from ml.data_quality
    where model_name = :model and ds between :start and :end
),

job_runs as (
    select
        job_run_id,
        status
    from ml.job_runs
),

failed as (
    select *
    from checks
    where not success
),

final as (
    select
        failed.ds,
        failed.policy,
        failed.suite,
        failed.stage,
        failed.expectation,
        failed.column_name,
        failed.observed_value,
        failed.job,
        failed.job_run_id,
        job_runs.status as job_status,
        failed.checked_at
    from failed
    left join job_runs
        on failed.job_run_id = job_runs.job_run_id
)

select * from final
order by ds, policy, suite, expectation, column_name, checked_at
