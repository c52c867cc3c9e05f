"""The estimator check on a day page: a warning box when the scoring version's estimator failed, a caption
when it passed, nothing for a version trained before the check."""

from __future__ import annotations

from test_html import assert_document, day, section

from lakeops.evaluate.estimator_check import EstimatorCheck, check_estimator
from lakeops.report.estimator_section import build
from lakeops.report.problems import BINARY, REGRESSION


def _reference(**values) -> dict:
    # The pages of test_html are scored by version 3.
    return {"model_name": "churn", "model_version": 3, "problem_type": "binary", "holdout_rows": 4000, "auc": 0.801,
            "auc_sd": 0.01, "f1": 0.62, "f1_sd": 0.02, **values}  # fmt: skip


FAILED = check_estimator(_reference(cbpe_auc=0.712, cbpe_f1=0.63))
PASSED = check_estimator(_reference(cbpe_auc=0.795, cbpe_f1=0.63))
UNCHECKED = check_estimator(_reference())  # trained before the check: no cbpe_* values


def test_a_failed_check_lists_every_metric_and_which_fell_outside():
    note = build({3: FAILED}, 3, BINARY)
    assert note is not None and note.failed and note.version == 3 and note.estimator == "CBPE"
    assert note.gaps == [
        {"label": "AUC", "estimated": "0.712", "realised": "0.801", "allowed": "0.030", "ok": False},
        {"label": "F1", "estimated": "0.630", "realised": "0.620", "allowed": "0.060", "ok": True},
    ]


def test_a_passed_check_and_none():
    note = build({3: PASSED}, 3.0, BINARY)  # versions arrive as floats from pandas
    assert note is not None and not note.failed
    assert note.figures == "AUC estimated 0.795 vs realised 0.801 (±0.030), F1 estimated 0.630 vs realised 0.620 (±0.060)"
    assert UNCHECKED.trusted is None and build({3: UNCHECKED}, 3, BINARY) is None
    assert build({2: FAILED}, 3, BINARY) is None  # another version's check
    assert build(None, 3, BINARY) is None and build({3: FAILED}, float("nan"), BINARY) is None


def test_a_regression_models_figures_are_in_the_labels_units():
    check = EstimatorCheck(False, (check_estimator({"problem_type": "regression", "holdout_rows": 400, "mae": 5.0,
                                                    "dle_mae": 7.5, "abs_error_sd": 4.0}).gaps[0],))
    note = build({3: check}, 3, REGRESSION)
    assert note is not None and note.estimator == "DLE"
    assert note.gaps[0] | {"ok": None} == {"label": "MAE", "estimated": "7.500", "realised": "5.000", "allowed": "0.6000",
                                           "ok": None}


def test_the_page_warns_in_its_performance_section():
    page = day(estimator_checks={3: FAILED})
    assert_document(page)
    perf = section(page, "Model performance")
    assert '<div class="warning-box">' in perf
    assert "The performance estimator (CBPE) of version 3 failed its check at training:" in perf
    assert "<li>AUC estimated <b>0.712</b> vs realised <b>0.801</b> on the holdout, allowed ±0.030 " \
           '<span class="badge warn">outside</span></li>' in perf  # fmt: skip
    assert "<li>F1 estimated <b>0.630</b> vs realised <b>0.620</b> on the holdout, allowed ±0.060</li>" in perf
    assert "alert rules on estimates abstain for this version; the realised rules still watch it." in perf


def test_the_page_of_a_passed_or_unchecked_version():
    passed = section(day(estimator_checks={3: PASSED}), "Model performance")
    assert '<p class="caption">Estimator check at training: CBPE of version 3 passed on its holdout: AUC estimated ' \
           "0.795 vs realised 0.801 (±0.030)" in passed  # fmt: skip
    assert 'class="warning-box"' not in passed
    for checks in ({3: UNCHECKED}, None, {2: FAILED}):
        part = section(day(estimator_checks=checks), "Model performance")
        assert "Estimator check" not in part and 'class="warning-box"' not in part
