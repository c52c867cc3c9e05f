"""The challenger in shadow: per shadow day, the gate's metrics of champion and challenger, judged only on
the days the challenger did not train on."""

from __future__ import annotations

import re
from datetime import date, timedelta

from test_html import DS, assert_document, assert_offline, day, section

from lakeops.evaluate.shadow import DayComparison
from lakeops.report.shadow_section import ShadowInputs, build, label, phase

# Challenger v4, trained with its holdout 01-05 .. 01-07, scored 01-03 .. 01-10 in shadow; labels up to 01-09.
HOLDOUT = (date(2024, 1, 5), date(2024, 1, 7))
SHADOW = [date(2024, 1, 3) + timedelta(days=i) for i in range(8)]
METRICS = [("auc", True), ("logloss", False)]


def _day(ds: date, auc: tuple[float, float], logloss: tuple[float, float], rows: int = 500) -> DayComparison:
    """(champion, challenger) values."""
    return DayComparison(ds, rows, 3, 4, {"auc": auc[0], "logloss": logloss[0]}, {"auc": auc[1], "logloss": logloss[1]})


COMPARED = [
    _day(SHADOW[0], (0.80, 0.95), (0.40, 0.20)),  # fit: the challenger trained on it, so it looks far better
    _day(SHADOW[1], (0.80, 0.93), (0.40, 0.21)),
    _day(SHADOW[2], (0.80, 0.82), (0.40, 0.38)),  # holdout: better on both
    _day(SHADOW[3], (0.80, 0.81), (0.40, 0.41)),  # holdout: AUC better, log loss worse (lower is better)
    _day(SHADOW[4], (0.80, 0.80), (0.40, 0.39)),  # holdout: AUC the same
    _day(SHADOW[5], (0.81, 0.79), (0.40, 0.42)),  # after: worse on both
    _day(SHADOW[6], (0.80, 0.83), (0.41, 0.37)),  # after: better on both
]


def _inputs(**overrides) -> ShadowInputs:
    inputs = {"comparisons": COMPARED, "scored": dict.fromkeys(SHADOW, 4), "holdouts": {4: HOLDOUT},
              "metrics": METRICS}  # fmt: skip
    return ShadowInputs(**(inputs | overrides))


def test_days_split_into_fit_holdout_and_after_with_verdicts_only_on_fair_days():
    shadow = build(_inputs(), DS, model_name="churn")
    assert shadow is not None
    rows = {r["day"]: r for r in shadow.rows}
    assert list(rows) == [d.isoformat() for d in reversed(SHADOW)]  # newest first
    assert [rows[d.isoformat()]["phase"] for d in SHADOW] == ["fit", "fit", "holdout", "holdout", "holdout", "after",
                                                               "after", "after"]  # fmt: skip

    def verdicts(d: date) -> list:
        return [c["verdict"] for c in rows[d.isoformat()]["cells"]]

    assert verdicts(SHADOW[0]) == verdicts(SHADOW[1]) == [None, None]  # trained on: never better or worse
    assert rows[SHADOW[0].isoformat()]["cells"][0] == {"champion": "0.8000", "challenger": "0.9500", "verdict": None}
    assert verdicts(SHADOW[2]) == ["better", "better"]
    assert verdicts(SHADOW[3]) == ["better", "worse"]
    assert verdicts(SHADOW[4]) == ["same", "better"]
    assert verdicts(SHADOW[5]) == ["worse", "worse"]
    assert verdicts(SHADOW[6]) == ["better", "better"]
    pending = rows[SHADOW[7].isoformat()]
    assert pending["pending"] and pending["phase"] == "after" and pending["rows"] is None
    assert shadow.summary == [
        "On its holdout (3 labelled days): AUC better on 2 of 3, log loss better on 2 of 3.",
        "After its holdout (2 labelled days): AUC better on 1 of 2, log loss better on 1 of 2.",
        "2 labelled days before its holdout: the challenger trained on them, so they are shown but not judged.",
        "1 day scored in shadow awaits labels.",
    ]
    assert shadow.metrics == ["AUC", "log loss"] and shadow.who == ("champion v3", "challenger v4")
    assert shadow.challengers == "v4" and shadow.champions == "v3" and shadow.first_day == "2024-01-03"
    assert "shadow.churn" in shadow.caption and "The champion's scores are the ones served" in shadow.caption


def test_a_page_shows_the_shadow_days_up_to_it_only():
    assert build(_inputs(), SHADOW[0] - timedelta(days=1)) is None  # before the first shadow day: no section
    early = build(_inputs(), SHADOW[3])
    assert early is not None and [r["day"] for r in early.rows][0] == SHADOW[3].isoformat()
    assert build(_inputs(), SHADOW[-1] + timedelta(days=60)) is None  # all older than the window
    assert build(None, DS) is None


def test_no_verdict_without_the_challengers_holdout_or_a_metrics_direction():
    shadow = build(_inputs(holdouts={}, metrics=[("auc", True), ("recall_disk", None)]), DS)
    assert shadow is not None
    assert {r["phase"] for r in shadow.rows} == {"unknown"}
    assert all(c["verdict"] is None for r in shadow.rows for c in r["cells"])
    assert any("holdout is unknown" in line for line in shadow.summary)
    assert shadow.metrics == ["AUC", "recall (disk)"]
    assert [c["challenger"] for c in shadow.rows[1]["cells"]] == ["0.8300", "–"]  # a metric not measured


def test_phase_and_labels():
    assert phase(date(2024, 1, 4), HOLDOUT) == "fit" and phase(date(2024, 1, 5), HOLDOUT) == "holdout"
    assert phase(date(2024, 1, 7), HOLDOUT) == "holdout" and phase(date(2024, 1, 8), HOLDOUT) == "after"
    assert phase(date(2024, 1, 8), None) == phase(date(2024, 1, 8), (None, None)) == "unknown"
    assert [label(m) for m in ("logloss", "rmse", "macro_f1", "f1_disk", "brier")] == [
        "log loss", "RMSE", "macro F1", "f1 (disk)", "Brier"]  # fmt: skip


def test_the_section_on_the_page():
    page = day(shadow=_inputs())
    assert_document(page)
    assert_offline(page)
    part = section(page, "Challenger in shadow")
    assert "challenger v4 scoring in shadow since 2024-01-03 beside champion v3" in part
    assert '<th colspan="2" class="metric">AUC</th><th colspan="2" class="metric">log loss</th>' in part
    row = re.search(r'<tr class="after"><td class="num">2024-01-09</td>.*?</tr>', part, flags=re.S).group(0)
    assert '0.8300 <span class="badge better">better</span>' in row and "after holdout" in row
    fit = re.search(r'<tr class="fit"><td class="num">2024-01-03</td>.*?</tr>', part, flags=re.S).group(0)
    assert "trained on" in fit and "badge better" not in fit and "badge worse" not in fit
    assert "scored in shadow by v4; no labels yet" in part
    # The chart: both versions per labelled day, the challenger's holdout named in its legend.
    assert "2024-01-09 · challenger v4 AUC 0.8300 · 500 rows" in part
    assert "2024-01-03 · challenger v4 AUC 0.9500 · 500 rows · the challenger trained on this day" in part
    assert "v4&#39;s holdout" in part or "v4's holdout" in part
    assert "Challenger in shadow" not in day()  # no shadow table: no section
