"""Multiclass model quality: the temperature-scaled output, realised metrics (labels) and CBPE estimates (no labels).

A multiclass booster (``multi:softprob``) gives a margin per class; its own
softmax of them is often over- or under-confident (Guo et al. 2017, "On
Calibration of Modern Neural Networks", holds for boosted trees too). The
model's output is :class:`Temperature`: ``softmax(margin / T)`` with one
parameter ``T`` fitted on rows the booster never fit (the validation rows).
One parameter cannot overfit a few hundred rows the way vector or matrix
scaling (2K or K² parameters) can, and dividing every margin by the same
positive ``T`` keeps each row's argmax and each class's ranking of the rows, so
accuracy, F1 and AUC are exactly the booster's; only the probabilities move.

A population's rows (a day and a slice) are tallied once into a
:class:`ClassTally`: one :class:`~lakeops.evaluate.binary.ScoreHistogram`
per class (one-vs-rest: that class's probability, the decision "predicted as
that class", the label "is that class"), the confusion matrix of the labelled
rows, CBPE's expected confusion matrix over every row, and the log-loss sum.
Tallies add up, so Spark tasks tally their batches and the driver adds them;
no row reaches the driver.

From one tally:

- :func:`realised`: metrics of the labelled rows. Accuracy, precision, recall,
  F1 and logloss are exact (from the confusion matrix and an exact sum); each
  class's one-vs-rest AUC treats the rows of one fine score bin as tied, which
  moves it by at most :func:`~lakeops.evaluate.binary.auc_binning_bound`.
- :func:`estimated`: confidence-based performance estimation (CBPE) as NannyML
  0.13 defines it for multiclass models: binary CBPE one-vs-rest per class on
  that class's probability with the decision "predicted as the class",
  macro-averaged; expected accuracy is the mean probability of the predicted
  class. Its assumptions are the binary ones: calibrated probabilities (what
  the temperature is for), no concept drift, no rows in regions the model
  never saw.

:func:`sampling_reference` bootstraps a labelled holdout to say how far a
realised value may fall from the estimate by sampling alone.

Reads and writes no tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np
import pyarrow as pa

from lakeops.evaluate import binary
from lakeops.evaluate.binary import BAND_SIGMAS, EPS, ScoreHistogram

METHOD = "temperature"
#: The predictions table's columns of a multiclass model, besides keys, constants and one score per class.
PREDICTION, CONFIDENCE = "prediction", "confidence"
#: The range :meth:`Temperature.fit` searches: beyond it the probabilities are all but one-hot or uniform.
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0


def score_column(class_name: str) -> str:
    """The predictions table's column holding a class's probability."""
    return f"score_{class_name}"


# --------------------------------------------------------------------------------------------- the output


def _softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax; the row maximum is subtracted first, so no exponent overflows."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


def _margins(margin: np.ndarray, n_classes: int) -> np.ndarray:
    m = np.asarray(margin, dtype=np.float64)
    if m.ndim != 2 or (n_classes and m.shape[1] != n_classes):
        raise ValueError(f"margin must be (rows, {n_classes or 'classes'}), got shape {m.shape}")
    return m


@dataclass(frozen=True)
class Temperature:
    """A multiclass model's output: ``softmax(margin / temperature)`` over its classes.

    ``classes`` are the class names in the booster's class order (margin column
    ``k`` is ``classes[k]``).
    """

    classes: tuple[str, ...] = ()
    temperature: float = 1.0

    @classmethod
    def fit(cls, margin: np.ndarray, y: np.ndarray, *, classes: Sequence[str]) -> Temperature:
        """The temperature that minimises the mean negative log-likelihood of ``y`` (class indexes).

        Searched on ``log T`` within [``MIN_TEMPERATURE``, ``MAX_TEMPERATURE``]
        (the likelihood is unimodal in it). No rows: ``T = 1``, the booster's own softmax.
        """
        from scipy.optimize import minimize_scalar

        names = tuple(str(c) for c in classes)
        m = _margins(margin, len(names))
        labels = np.asarray(y)
        if labels.shape != (m.shape[0],):
            raise ValueError(f"y must be 1-d with {m.shape[0]} rows like margin, got shape {labels.shape}")
        if m.shape[0] == 0:
            return cls(classes=names, temperature=1.0)
        if labels.min() < 0 or labels.max() >= len(names):
            raise ValueError(f"y must hold class indexes 0..{len(names) - 1}, got values {labels.min()}..{labels.max()}")
        shifted = m - m.max(axis=1, keepdims=True)  # the same softmax, and exp() below never overflows
        true_margin = shifted[np.arange(m.shape[0]), labels.astype(np.intp)]

        def nll(log_t: float) -> float:
            z = shifted / math.exp(log_t)
            return float(np.mean(np.log(np.exp(z).sum(axis=1)) - true_margin / math.exp(log_t)))

        fitted = minimize_scalar(nll, bounds=(math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE)),
                                 method="bounded", options={"xatol": 1e-7})
        return cls(classes=names, temperature=float(math.exp(fitted.x)))

    def probabilities(self, margin: np.ndarray) -> np.ndarray:
        """Class probabilities ``(rows, classes)``, float64, each row summing to 1."""
        return _softmax(_margins(margin, len(self.classes)) / self.temperature)

    def output(self, margin: np.ndarray) -> np.ndarray:
        """What a multiclass model outputs: the class probabilities (every output has ``output``)."""
        return self.probabilities(margin)

    def columns(self, margin: np.ndarray, *, threshold: float | None = None) -> dict[str, np.ndarray | pa.Array]:
        """What scoring writes for each row, in this order: the predicted class's name (an Arrow string
        array: taking names by index is ten times quicker than converting Python strings), its
        probability, then ``score_<class>`` for every class in class order (``threshold`` is unused).

        The prediction is the argmax of the written probabilities (the first class on ties), so
        monitoring, which sees only those, decides as scoring did.
        """
        p = self.probabilities(margin)
        top = np.argmax(p, axis=1)
        names = pa.array(self.classes, type=pa.string()).take(pa.array(top))
        out: dict[str, np.ndarray | pa.Array] = {PREDICTION: names, CONFIDENCE: p[np.arange(p.shape[0]), top]}
        for k, name in enumerate(self.classes):
            out[score_column(name)] = p[:, k]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"method": METHOD, "temperature": self.temperature, "classes": list(self.classes)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Temperature:
        if data.get("method") != METHOD:
            raise ValueError(f"unknown multiclass output method {data.get('method')!r}")
        return cls(classes=tuple(str(c) for c in data["classes"]), temperature=float(data["temperature"]))


# --------------------------------------------------------------------------------------------- the tally


def label_indexes(labels: Any, classes: Sequence[str]) -> np.ndarray:
    """Each label's class index (int64): -1 for a null label or a name not among ``classes``.

    ``labels``: a sequence of class names and nulls (a list, a numpy, pandas or Arrow array).
    Labels are matched as given: a label ``1`` does not match a class named ``"1"``.
    """
    lookup = {name: k for k, name in enumerate(classes)}
    # Python objects, not numpy or Arrow scalars: those would not match the names.
    if hasattr(labels, "to_pylist"):
        values = labels.to_pylist()
    else:
        values = labels.tolist() if hasattr(labels, "tolist") else list(labels)
    # None, NaN (pandas' null) and unknown names all miss the lookup; one dict probe per row in C.
    return np.fromiter(map(lookup.get, values, repeat(-1)), dtype=np.int64, count=len(values))


@dataclass(eq=False)  # numpy arrays have no single truth value: compare the fields themselves
class ClassTally:
    """What one population's rows add up to, per class and across classes; tallies merge with ``+``."""

    #: class k one-vs-rest: scores p[:, k], decisions predicted == k, labels y == k (unlabelled rows apart)
    per_class: list[ScoreHistogram]
    #: labelled rows: [actual, predicted]
    confusion: np.ndarray
    #: every scored row: [i, j] += p[:, i] over the rows predicted j (CBPE's expected confusion matrix)
    expected: np.ndarray
    #: labelled rows: sum of -log(p of the true class), clipped at ``EPS``
    log_loss_sum: float = 0.0

    def __add__(self, other: ClassTally) -> ClassTally:
        if not isinstance(other, ClassTally):
            return NotImplemented
        if len(self.per_class) != len(other.per_class):
            raise ValueError(f"cannot add tallies of {len(self.per_class)} and {len(other.per_class)} classes")
        return ClassTally(per_class=[a + b for a, b in zip(self.per_class, other.per_class, strict=True)],
                          confusion=self.confusion + other.confusion, expected=self.expected + other.expected,
                          log_loss_sum=self.log_loss_sum + other.log_loss_sum)

    def __radd__(self, other: Any) -> ClassTally:
        # So that the builtin sum() works from its start value 0.
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented

    @property
    def n_classes(self) -> int:
        return len(self.per_class)

    @property
    def n_scored(self) -> int:
        return self.per_class[0].n_scored

    @property
    def n_labeled(self) -> int:
        return int(self.confusion.sum())


def empty_tally(n_classes: int) -> ClassTally:
    """The tally of no rows (the identity of ``+``)."""
    if n_classes < 2:
        raise ValueError(f"a multiclass tally needs at least 2 classes, got {n_classes}")
    return ClassTally(per_class=[ScoreHistogram() for _ in range(n_classes)],
                      confusion=np.zeros((n_classes, n_classes), dtype=np.int64),
                      expected=np.zeros((n_classes, n_classes), dtype=np.float64))


def tally(*, probabilities: np.ndarray, labels: np.ndarray) -> ClassTally:
    """The tally of these rows: ``probabilities`` ``(rows, classes)``, ``labels`` class indexes (-1: not labelled yet).

    The decision is the argmax of the probabilities (the first class on ties), as scoring wrote it.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probabilities must be (rows, classes), got shape {p.shape}")
    n, k = p.shape
    y = np.asarray(labels)
    if y.shape != (n,):
        raise ValueError(f"labels must be 1-d with {n} rows like probabilities, got shape {y.shape}")
    y = y.astype(np.int64, copy=False)
    t = empty_tally(k)
    if n == 0:
        return t
    if np.isnan(p).any():
        raise ValueError("probabilities have NaN values")
    if y.min() < -1 or y.max() >= k:
        raise ValueError(f"labels must be class indexes 0..{k - 1} or -1, got values {y.min()}..{y.max()}")
    predicted = np.argmax(p, axis=1)
    labelled = y >= 0
    y_labelled = y[labelled]
    t.confusion = np.bincount(y_labelled * k + predicted[labelled], minlength=k * k).reshape(k, k).astype(np.int64)
    for i in range(k):
        t.expected[i] = np.bincount(predicted, weights=p[:, i], minlength=k)
    right = p[labelled, y_labelled]
    t.log_loss_sum = float(-np.log(np.clip(right, EPS, 1.0)).sum())
    # One-vs-rest labels as binary.tally reads them: 1, 0, or NaN for a row not labelled yet.
    one_vs_rest = np.where(labelled, 0.0, np.nan)
    for i in range(k):
        is_class = y == i
        one_vs_rest[is_class] = 1.0
        t.per_class[i] = binary.tally(p[:, i], predicted == i, one_vs_rest)
        one_vs_rest[is_class] = 0.0
    return t


# --------------------------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class ClassMetrics:
    """One class's one-vs-rest metrics (NaN where undefined)."""

    class_name: str
    #: realised: labelled rows of the class; estimated: expected rows of the class (its probabilities' sum)
    support: float
    #: rows predicted as the class (realised: labelled rows; estimated: every scored row)
    predicted: int
    precision: float
    recall: float
    f1: float
    auc: float


@dataclass(frozen=True)
class MulticlassQuality:
    """A population's multiclass quality: realised (from labels) or estimated (from probabilities)."""

    n_scored: int
    n_labeled: int
    accuracy: float
    #: means over the classes where the metric is defined
    macro_precision: float
    macro_recall: float
    macro_f1: float
    #: F1 weighted by support (estimated: by expected support)
    weighted_f1: float
    #: macro one-vs-rest AUC over the classes where it is defined
    auc: float
    #: realised only (NaN for estimated)
    logloss: float
    classes: tuple[ClassMetrics, ...]
    #: realised: [actual, predicted] counts; estimated: expected counts
    confusion: np.ndarray = field(repr=False, compare=False)
    #: how far the binned AUC (each class's, so the macro one too) may be from the per-row one
    auc_bound: float = 0.0


def _precision_recall_f1(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    nan = float("nan")
    return (tp / (tp + fp) if tp + fp > 0 else nan, tp / (tp + fn) if tp + fn > 0 else nan,
            2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else nan)


def _mean(values: Sequence[float]) -> float:
    """Mean of the defined (not NaN) values; NaN if none is."""
    defined = [v for v in values if not math.isnan(v)]
    return float(sum(defined) / len(defined)) if defined else float("nan")


def _macro(values: Sequence[float], present: Sequence[bool]) -> float:
    """scikit-learn's macro average: over the classes present (labelled or predicted), an undefined
    value (a class never predicted has no precision) counting 0; NaN if no class is present."""
    kept = [0.0 if math.isnan(v) else v for v, p in zip(values, present, strict=True) if p]
    return float(sum(kept) / len(kept)) if kept else float("nan")


def _weighted(values: Sequence[float], weights: Sequence[float]) -> float:
    """Mean weighted by ``weights`` over the defined values with positive weight (scikit-learn's ``weighted``)."""
    pairs = [(v, w) for v, w in zip(values, weights, strict=True) if w > 0 and not math.isnan(v)]
    total = sum(w for _, w in pairs)
    return float(sum(v * w for v, w in pairs) / total) if total > 0 else float("nan")


def _check_classes(t: ClassTally, classes: Sequence[str]) -> None:
    if len(classes) != t.n_classes:
        raise ValueError(f"the tally has {t.n_classes} classes, got {len(classes)} class names")


def _quality(t: ClassTally, per_class: list[ClassMetrics], *, n: float, correct: float, logloss: float,
             confusion: np.ndarray, auc_bound: float) -> MulticlassQuality:
    nan = float("nan")
    present = [c.support > 0 or c.predicted > 0 for c in per_class]
    return MulticlassQuality(
        n_scored=t.n_scored, n_labeled=t.n_labeled, accuracy=correct / n if n > 0 else nan,
        macro_precision=_macro([c.precision for c in per_class], present),
        macro_recall=_macro([c.recall for c in per_class], present),
        macro_f1=_macro([c.f1 for c in per_class], present),
        weighted_f1=_weighted([c.f1 for c in per_class], [c.support for c in per_class]),
        auc=_mean([c.auc for c in per_class]), logloss=logloss, classes=tuple(per_class), confusion=confusion,
        auc_bound=auc_bound)


def realised(t: ClassTally, classes: Sequence[str]) -> MulticlassQuality:
    """Metrics of the labelled rows.

    The macro averages are scikit-learn's (its default ``labels``): over the
    classes labelled or predicted in these rows, an undefined value counting 0.
    Per class, an undefined value stays NaN (null in the tables) where
    scikit-learn says 0 with a warning: a class's precision when no row was
    predicted as it, its AUC when the labelled rows are all or none of it (the
    macro AUC is the mean of the defined ones; scikit-learn's
    ``roc_auc_score`` raises instead).
    """
    _check_classes(t, classes)
    c = t.confusion.astype(np.float64)
    per_class = []
    for k, name in enumerate(classes):
        tp = c[k, k]
        precision, recall, f1 = _precision_recall_f1(tp, c[:, k].sum() - tp, c[k].sum() - tp)
        per_class.append(ClassMetrics(class_name=name, support=float(c[k].sum()), predicted=int(t.confusion[:, k].sum()),
                                      precision=precision, recall=recall, f1=f1,
                                      auc=binary.realised(t.per_class[k]).auc))
    n = t.n_labeled
    return _quality(t, per_class, n=n, correct=float(np.trace(c)), logloss=t.log_loss_sum / n if n else float("nan"),
                    confusion=c, auc_bound=max(binary.auc_binning_bound(h) for h in t.per_class))


def estimated(t: ClassTally, classes: Sequence[str]) -> MulticlassQuality:
    """CBPE over every scored row, labelled or not, as NannyML 0.13 estimates a multiclass model.

    Each class is a binary CBPE problem (:func:`lakeops.evaluate.binary.estimated`) on its
    probability with the decision "predicted as the class"; the macro metrics are the classes'
    means. Expected accuracy is ``trace(expected) / n_scored``: the mean probability of the
    predicted class. An undefined per-class precision (a class never predicted) is NaN in the
    class's row and counts 0 in the macro mean, as NannyML counts it; each class's expected AUC
    steps bin by bin (within ``auc_bound`` of NannyML's per-row curve).
    """
    _check_classes(t, classes)
    per_class = []
    for k, name in enumerate(classes):
        q = binary.estimated(t.per_class[k])
        per_class.append(ClassMetrics(class_name=name, support=float(t.expected[k].sum()),
                                      predicted=int(t.per_class[k].decided.sum()),
                                      precision=q.precision, recall=q.recall, f1=q.f1, auc=q.auc))
    return _quality(t, per_class, n=t.n_scored, correct=float(np.trace(t.expected)), logloss=float("nan"),
                    confusion=t.expected.copy(),
                    auc_bound=max(binary.expected_auc_binning_bound(h) for h in t.per_class))


def evaluate(y: np.ndarray, probabilities: np.ndarray, *, classes: Sequence[str]) -> dict[str, float]:
    """The metrics a multiclass model is judged and logged by (training, the gate), from driver arrays.

    ``y``: class indexes (-1: unlabelled, skipped) or class names (mapped by :func:`label_indexes`).
    The same tally and :func:`realised` monitoring runs, so the numbers agree.
    """
    labels = np.asarray(y)
    if labels.dtype.kind in "OUS":
        labels = label_indexes(labels, classes)
    q = realised(tally(probabilities=probabilities, labels=labels), classes)
    out = {"n": float(q.n_labeled), "accuracy": q.accuracy, "macro_f1": q.macro_f1, "weighted_f1": q.weighted_f1,
           "auc": q.auc, "logloss": q.logloss, "macro_precision": q.macro_precision, "macro_recall": q.macro_recall}
    for c in q.classes:
        out.update({f"precision_{c.class_name}": c.precision, f"recall_{c.class_name}": c.recall,
                    f"f1_{c.class_name}": c.f1})
    return out


# --------------------------------------------------------------------------------------------- the band


@dataclass(frozen=True)
class MulticlassSampling:
    """Standard deviations of realised accuracy, macro AUC and macro F1 over resamples of the holdout, at ``rows`` rows."""

    rows: int
    accuracy_sd: float
    auc_sd: float
    f1_sd: float

    def sd(self, metric: str, n: int) -> float:
        """The metric's (``accuracy``, ``auc`` or ``f1``: macro F1) sampling sd at ``n`` rows (it shrinks as 1/sqrt(n))."""
        per_rows = {"accuracy": self.accuracy_sd, "auc": self.auc_sd, "f1": self.f1_sd}.get(metric)
        if per_rows is None:
            raise ValueError(f"sd is defined for 'accuracy', 'auc' and 'f1', got {metric!r}")
        if n <= 0:
            return float("nan")
        return float(per_rows * math.sqrt(self.rows / n))

    def band(self, metric: str, value: float, n: int) -> tuple[float, float]:
        """``value`` +- ``BAND_SIGMAS`` standard deviations at ``n`` rows, clipped to [0, 1]."""
        half = BAND_SIGMAS * self.sd(metric, n)
        return float(max(0.0, value - half)), float(min(1.0, value + half))


def _exact_metrics(y: np.ndarray, p: np.ndarray) -> tuple[float, float, float]:
    """Accuracy, macro AUC (per row, ties halved) and macro F1 of labelled rows: the bootstrap's inner loop."""
    from lakeops.evaluate.metrics import roc_auc

    k = p.shape[1]
    predicted = np.argmax(p, axis=1)
    c = np.bincount(y * k + predicted, minlength=k * k).reshape(k, k).astype(np.float64)
    tp = np.diag(c)
    f1 = [_precision_recall_f1(tp[i], c[:, i].sum() - tp[i], c[i].sum() - tp[i])[2] for i in range(k)]
    auc = [roc_auc(y == i, p[:, i]) for i in range(k)]
    return float(tp.sum() / y.size), _mean(auc), _mean(f1)


def sampling_reference(y: np.ndarray, probabilities: np.ndarray, *, classes: Sequence[str], resamples: int = 200,
                       seed: int = 0) -> MulticlassSampling:
    """Bootstrap the holdout: how much accuracy, macro AUC and macro F1 vary between samples of its size.

    ``y``: class indexes; unlabelled rows (-1) are dropped first.
    """
    labels = np.asarray(y).astype(np.int64)
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape != (labels.size, len(classes)):
        raise ValueError(f"probabilities must be ({labels.size}, {len(classes)}), got shape {p.shape}")
    keep = labels >= 0
    labels, p = labels[keep], p[keep]
    if labels.size < 2:
        raise ValueError(f"need at least 2 labelled rows to bootstrap, got {labels.size}")
    rng = np.random.default_rng(seed)
    values = np.array([_exact_metrics(labels[pick], p[pick])
                       for pick in (rng.integers(0, labels.size, labels.size) for _ in range(resamples))])
    accuracy_sd, auc_sd, f1_sd = (float(np.nanstd(values[:, j], ddof=1)) for j in range(3))
    return MulticlassSampling(rows=int(labels.size), accuracy_sd=accuracy_sd, auc_sd=auc_sd, f1_sd=f1_sd)
