-- What does a multiclass model call each class, on one day?
--
-- Serves: multiclass models (e.g. incident_kind).
--
-- The confusion matrix of :ds (whole population), one row per actual and
-- predicted class: counted from the labels (realised) once they have
-- arrived, and expected from the calibrated probabilities (estimated, CBPE)
-- for every scored row; each cell's share of its actual class (a diagonal
-- share is the class's recall).
--
-- Parameters: :model, :ds.

with cells as (
    select
        kind,
        actual,
        predicted,
        rows
    from ml.confusion_matrix
    where
        model_name = :model
        and ds = :ds
        and slice_key is null
),

final as (
    select
        kind,
        actual,
        predicted,
        rows,
        rows / nullif(sum(rows) over (partition by kind, actual), 0) as share_of_actual,
        actual = predicted as correct
    from cells
)

select * from final
order by kind desc, actual asc, predicted asc
