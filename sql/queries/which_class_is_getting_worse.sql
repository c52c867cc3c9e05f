-- Which class is a multiclass model getting worse at?
--
-- Serves: multiclass models (e.g. incident_kind).
--
-- For each class (whole population, realised from the labels): its recall
-- and precision on the first and on the last labelled day of :start..:end,
-- their change, the mean over the range, and the rows of the class over
-- the range; the class whose recall fell most comes first. Recall is the
-- share of a class's rows the model found; a falling recall is a class it
-- now misses (the confusion matrix, confusion_matrix_on_a_day.sql, says
-- what it calls them instead).
--
-- Parameters: :model, :start, :end.

with per_day as (
    select
        ds,
        class_name,
        support,
        recall,
        precision
    from ml.class_metrics
    where
        model_name = :model
        and kind = 'realised'
        and slice_key is null
        and ds between :start and :end
),

ends as (
    select
        min(ds) as first_ds,
        max(ds) as last_ds
    from per_day
),

final as (
    select
        per_day.class_name,
        ends.first_ds,
        ends.last_ds,
        sum(per_day.support) as labelled_rows,
        avg(per_day.recall) as mean_recall,
        max(case when per_day.ds = ends.first_ds then per_day.recall end) as first_recall,
        max(case when per_day.ds = ends.last_ds then per_day.recall end) as last_recall,
        max(case when per_day.ds = ends.last_ds then per_day.recall end)
        - max(case when per_day.ds = ends.first_ds then per_day.recall end) as recall_change,
        max(case when per_day.ds = ends.first_ds then per_day.precision end) as first_precision,
        max(case when per_day.ds = ends.last_ds then per_day.precision end) as last_precision
    from per_day
    cross join ends
    group by per_day.class_name, ends.first_ds, ends.last_ds
)

select * from final
order by recall_change asc nulls last, class_name asc
