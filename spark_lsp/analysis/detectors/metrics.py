"""Metrics given the wrong kind of prediction: hard class labels where scores are needed."""

from __future__ import annotations

from collections.abc import Iterator

from ast_grep_py import SgNode

from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.detectors import DetectorMatch, detector
from spark_lsp.analysis.detectors._nodes import (
    argument,
    callee_is,
    calls,
    constructor_name,
    keyword,
    line_of,
    origin_call,
    positional,
)

# -- SPK045: hard class labels given to a metric that needs scores -----------------------------
_SCORE_METRICS = tuple(f"sklearn.metrics.{f}" for f in (
    "roc_auc_score", "average_precision_score", "log_loss", "brier_score_loss", "roc_curve",
    "precision_recall_curve", "det_curve"))
_METRIC_NAMES = tuple(m.rsplit(".", 1)[-1] for m in _SCORE_METRICS)
_SCORE_KEYWORDS = ("y_score", "y_proba", "y_prob", "y_pred", "probas_pred")
_CLASSIFIERS = {"LogisticRegression", "LogisticRegressionCV", "SVC", "NuSVC", "LinearSVC",
                "GaussianNB", "MultinomialNB", "BernoulliNB", "ComplementNB", "CategoricalNB",
                "LinearDiscriminantAnalysis", "QuadraticDiscriminantAnalysis", "Perceptron"}


@detector("hard_predictions_scored", scope="block",
          words=_METRIC_NAMES)
def find_hard_predictions_scored(ctx: FileContext) -> Iterator[DetectorMatch]:
    for call in calls(ctx, _METRIC_NAMES):
        if not callee_is(call, _SCORE_METRICS):
            continue
        score = argument(call.node, 1)
        for kw in _SCORE_KEYWORDS:
            score = score if score is not None else keyword(call.node, kw)
        predict = _predict_call(ctx, score, call.offset)
        if predict is None:
            continue
        node, offset = predict
        func = node.field("function")
        model = func.field("object") if func is not None else None
        if score is not None and model is not None and _is_classifier(ctx, model, offset):
            yield DetectorMatch(score, call.offset, {
                "METRIC": (call.qualname or "").rsplit(".", 1)[-1], "PRED": score.text(),
                "M": model.text()})


def _predict_call(ctx: FileContext, expr: SgNode | None, offset: int) -> tuple[SgNode, int] | None:
    if expr is None:
        return None
    if expr.kind() == "identifier":
        b = ctx.infer.binding_at(expr.text(), line_of(expr, offset))
        if b is None or b.value is None or b.index is not None:
            return None
        expr, offset = b.value, b.offset
    if expr.kind() != "call":
        return None
    func = expr.field("function")
    attr = func.field("attribute") if func is not None and func.kind() == "attribute" else None
    return (expr, offset) if attr is not None and attr.text() == "predict" else None


def _is_classifier(ctx: FileContext, model: SgNode, offset: int, depth: int = 0) -> bool:
    found = origin_call(ctx, model, offset)
    if found is None or depth > 3:
        return False
    node, off = found
    q = constructor_name(ctx, node, off) or ""
    last = q.rsplit(".", 1)[-1]
    if not q.startswith(("sklearn.", "xgboost.", "lightgbm.", "catboost.", "builtins.")):
        return False
    if last in _CLASSIFIERS or last.endswith(("Classifier", "ClassifierCV")):
        return True
    if last == "make_pipeline":
        args = positional(node)
        return bool(args) and _is_classifier(ctx, args[-1], off, depth + 1)
    if last == "Pipeline":
        steps = argument(node, 0, "steps")
        items = steps.named_children() if steps is not None and steps.kind() == "list" else []
        last_step = items[-1].named_children() if items else []
        return len(last_step) == 2 and _is_classifier(ctx, last_step[1], off, depth + 1)
    if last.endswith("SearchCV"):
        est = argument(node, 0, "estimator")
        return est is not None and _is_classifier(ctx, est, off, depth + 1)
    return False
