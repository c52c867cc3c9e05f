-- Does every stored PSI of a day recompute by hand from two stored tables?
--
-- Serves: any model (binary, regression or multiclass).
--
-- For each column and slice of a model on :ds: the PSI ml.drift_metrics
-- stored against the training baseline, and the same PSI recomputed from
-- ml.baselines (the baseline proportion of each bucket) and ml.drift_counts
-- (the day's rows per bucket: bin_counts is in bin_index order with the null
-- bucket, -1, last). PSI = sum over buckets of (q - p) * ln(q / p), where a
-- bucket empty on exactly one side counts as proportion 1e-4 on that side
-- and a bucket empty on both sides contributes nothing.
--
-- Parameters: :model, :ds.

with counts as (
    select
        ds,
        model_version,
        column_name,
        slice_key,
        slice_value,
        bin_counts
    from ml.drift_counts
    where model_name = :model and ds = :ds
),

baselines as (
    select
        model_version,
        column_name,
        slice_key,
        slice_value,
        bin_index,
        proportion
    from ml.baselines
    where model_name = :model
),

stored as (
    select
        ds,
        model_version,
        column_name,
        slice_key,
        slice_value,
        psi
    from ml.drift_metrics
    where model_name = :model and ds = :ds and drift_type = 'baseline'
),

baseline_positions as (
    select
        *,
        row_number() over (
            partition by model_version, column_name, slice_key, slice_value
            order by case when bin_index = -1 then 1 else 0 end, bin_index
        ) as bucket_position
    from baselines
),

bucket_counts as (
    select
        counts.ds,
        counts.model_version,
        counts.column_name,
        counts.slice_key,
        counts.slice_value,
        baseline_positions.bin_index,
        baseline_positions.proportion as p_baseline,
        element_at(counts.bin_counts, baseline_positions.bucket_position) as current_rows
    from counts
    inner join baseline_positions
        on
            counts.model_version = baseline_positions.model_version
            and counts.column_name = baseline_positions.column_name
            and counts.slice_key <=> baseline_positions.slice_key
            and counts.slice_value <=> baseline_positions.slice_value
),

bucket_shares as (
    select
        *,
        current_rows / sum(current_rows) over (
            partition by ds, model_version, column_name, slice_key, slice_value
        ) as q_current
    from bucket_counts
),

smoothed as (
    select
        *,
        case when p_baseline = 0 then 1e-4 else p_baseline end as p,
        case when q_current = 0 then 1e-4 else q_current end as q,
        p_baseline = 0 and q_current = 0 as empty_on_both_sides
    from bucket_shares
),

recomputed as (
    select
        ds,
        model_version,
        column_name,
        slice_key,
        slice_value,
        count(*) as n_buckets,
        sum(case when empty_on_both_sides then 0 else (q - p) * ln(q / p) end) as psi_by_hand
    from smoothed
    group by ds, model_version, column_name, slice_key, slice_value
),

final as (
    select
        stored.ds,
        stored.model_version,
        stored.column_name,
        stored.slice_key,
        stored.slice_value,
        recomputed.n_buckets,
        stored.psi as psi_stored,
        recomputed.psi_by_hand,
        abs(stored.psi - recomputed.psi_by_hand) as abs_difference
    from stored
    inner join recomputed
        on
            stored.model_version = recomputed.model_version
            and stored.column_name = recomputed.column_name
            and stored.slice_key <=> recomputed.slice_key
            and stored.slice_value <=> recomputed.slice_value
)

select * from final
order by column_name, slice_key nulls first, slice_value
