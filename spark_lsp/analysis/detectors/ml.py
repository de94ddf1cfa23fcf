"""Model-evaluation mistakes: test data that leaks into fitting, tuning or early stopping.

Everything here hinges on one question: does this expression hold *test* data? The answer
comes from dataflow first (the odd outputs of `train_test_split`, values derived from them by
`.transform(...)`/indexing) and from the community's naming (`X_test`, `test_df`, `dtest`) when
the code does not show where a value came from. Validation data (`X_val`, or the held-out part
of a split of training data) is a separate role: using it for early stopping is right,
refitting a transformer on it is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ast_grep_py import SgNode

from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.detectors import DetectorMatch, detector
from spark_lsp.analysis.detectors._nodes import (
    Call,
    argument,
    call_info,
    callee_is,
    calls,
    constructor_name,
    keyword,
    line_of,
    origin_call,
    positional,
    root_identifier,
    words,
)

TEST, HELDOUT, TRAIN = "test", "heldout", "train"

SPLIT = ("sklearn.model_selection.train_test_split",)
_TEST_WORDS = {"test", "holdout"}
_VAL_WORDS = {"val", "valid", "validation", "dev", "va"}
_TRAIN_WORDS = {"train", "training", "tr"}
# Words that may sit next to `test` in the name of test *data* (not `test_size`, `n_test`).
_DATA_WORDS = {
    "x", "y", "data", "df", "frame", "set", "features", "feature", "feats", "labels", "label",
    "target", "targets", "images", "image", "imgs", "img", "texts", "text", "docs", "sentences",
    "inputs", "input", "seq", "seqs", "sequences", "ds", "dataset", "generator", "gen",
    "scaled", "std", "norm", "normalized", "transformed", "tfidf", "vec", "vect", "vectorized",
    "enc", "encoded", "processed", "prep", "preprocessed", "clean", "cleaned", "final", "raw",
    "imputed", "num", "cat", "ohe", "pad", "padded", "tokenized", "flat", "reshaped", "arr",
    "array", "np", "tensor", "tensors", "t", "s", "sc", "full", "sample", "samples", "subset",
    "reduced", "pca", "selected", "matrix", "mat", "d", "dmatrix",
}
_COMPACT = re.compile(r"^(?:[xy]_?(?P<r1>test|te|val|valid|va|train|tr)"  # xte, y_tr
                      r"|d_?(?P<r2>test|val|valid|train)"  # xgboost's dtest, dtrain
                      r"|(?P<r3>test|val|valid|train)_?[xy])$")  # testX
# Calls whose result is the same rows as their first argument.
_ROW_PRESERVING = ("numpy.array", "numpy.asarray", "pandas.DataFrame", "pandas.Series",
                   "torch.tensor", "torch.from_numpy", "torch.as_tensor",
                   "tensorflow.convert_to_tensor", "tensorflow.constant", "xgboost.DMatrix",
                   "lightgbm.Dataset", "catboost.Pool", "torch.utils.data.TensorDataset",
                   "torch.utils.data.DataLoader", "scipy.sparse.csr_matrix")
_TRANSFORM_METHODS = {"transform", "fit_transform"}


# -- roles ------------------------------------------------------------------------------------
def name_role(name: str) -> str | None:
    """TEST / HELDOUT / TRAIN from a name alone; None when the name does not say."""
    low = name.lower()
    m = _COMPACT.match(low)
    if m:
        role = m.group("r1") or m.group("r2") or m.group("r3")
        return TEST if role in ("test", "te") else TRAIN if role in ("train", "tr") else HELDOUT
    ws = words(name)
    if len(ws) < 2:
        return None
    roles = {TEST for w in ws if w in _TEST_WORDS} | {HELDOUT for w in ws if w in _VAL_WORDS} \
        | {TRAIN for w in ws if w in _TRAIN_WORDS}
    if "te" in ws and set(ws) - {"te"} <= {"x", "y"}:
        roles.add(TEST)
    rest = [w for w in ws if w not in _TEST_WORDS | _VAL_WORDS | _TRAIN_WORDS | {"te"}]
    if len(roles) != 1 or not all(w in _DATA_WORDS or w.isdigit() for w in rest):
        return None
    return roles.pop()


def data_role(ctx: FileContext, expr: SgNode | None, offset: int, depth: int = 0) -> str | None:
    """What part of the data `expr` holds at its position: TEST, HELDOUT, TRAIN or None."""
    if expr is None or depth > 6:
        return None
    if expr.kind() == "call":
        info = call_info(ctx, expr, offset)
        if info.method in _TRANSFORM_METHODS or callee_is(info, _ROW_PRESERVING):
            first = argument(expr, 0)
            if first is not None:
                return data_role(ctx, first, offset, depth + 1)
    ident = root_identifier(expr)
    if ident is None:
        return None
    name = ident.text()
    binding = ctx.infer.binding_at(name, line_of(ident, offset))
    if binding is not None and binding.index is not None and binding.value is not None:
        split = call_info(ctx, binding.value, binding.offset)
        if binding.value.kind() == "call" and callee_is(split, SPLIT):
            return _split_role(ctx, binding.value, binding.offset, binding.index, name)
    by_name = name_role(name)
    if by_name is not None:
        return by_name
    if name.lower() == "test":  # Kaggle's `test = pd.read_csv("test.csv")`
        t = ctx.type_of(ident, offset)
        if t and t.split(".")[0] in ("pandas", "numpy"):
            return TEST
    if binding is not None and binding.value is not None and binding.index is None:
        return data_role(ctx, binding.value, binding.offset, depth + 1)
    return None


def _split_role(ctx: FileContext, split: SgNode, offset: int, index: int, name: str) -> str:
    """`train_test_split` returns (train, test) pairs: odd positions are the held-out rows."""
    if index % 2 == 0:
        return TRAIN
    if name_role(name) in (HELDOUT, TRAIN):
        return HELDOUT  # `X_tr, X_val, ... = train_test_split(...)`
    source = argument(split, 0)
    if source is not None and data_role(ctx, source, offset) == TRAIN:
        return HELDOUT  # a split of the training data is a validation split
    return TEST


# -- SPK036: early stopping / validation on the test set --------------------------------------
_EVAL_KEYWORDS = ("validation_data", "eval_set", "valid_sets", "evals")


@detector("test_set_as_validation", scope="block", words=_EVAL_KEYWORDS)
def find_test_set_as_validation(ctx: FileContext) -> Iterator[DetectorMatch]:
    for call in calls(ctx, ("fit", "train", "fit_generator")):
        name = call.method or (call.qualname or "").rsplit(".", 1)[-1]
        if name not in ("fit", "train", "fit_generator"):
            continue
        for kw in _EVAL_KEYWORDS:
            value = keyword(call.node, kw)
            if value is None:
                continue
            for data in _evaluation_inputs(value):
                if data_role(ctx, data, call.offset) == TEST:
                    yield DetectorMatch(value.parent() or value, call.offset,
                                        {"ARG": kw, "X": data.text()})
                    break


def _evaluation_inputs(value: SgNode) -> list[SgNode]:
    """The feature part of each evaluation set: `X` of `(X, y)`, `[(X, y), ...]`, `dtest`."""
    kind = value.kind()
    if kind in ("tuple", "parenthesized_expression"):
        items = value.named_children()
        if items and items[0].kind() in ("tuple", "parenthesized_expression"):
            return [x for item in items for x in _evaluation_inputs(item)]
        return items[:1]
    if kind == "list":
        return [x for item in value.named_children() for x in _evaluation_inputs(item)]
    return [value]


# -- SPK044: hyperparameter search / cross-validation on the test set --------------------------
_CV_FUNCTIONS = tuple(f"sklearn.model_selection.{f}" for f in (
    "cross_val_score", "cross_validate", "cross_val_predict", "learning_curve",
    "validation_curve", "permutation_test_score"))


_CV_NAMES = tuple(f.rsplit(".", 1)[-1] for f in _CV_FUNCTIONS)


@detector("search_on_test_set", scope="block", words=_CV_NAMES + ("fit",))
def find_search_on_test_set(ctx: FileContext) -> Iterator[DetectorMatch]:
    for call in calls(ctx, _CV_NAMES + ("fit",)):
        if callee_is(call, _CV_FUNCTIONS):
            data = argument(call.node, 1, "X")
            what = (call.qualname or "").rsplit(".", 1)[-1]
        elif call.method == "fit" and _is_search(ctx, call):
            data = argument(call.node, 0, "X")
            what = _search_name(ctx, call)
        else:
            continue
        if data is not None and data_role(ctx, data, call.offset) == TEST:
            yield DetectorMatch(call.node, call.offset, {"WHAT": what, "X": data.text()})


def _search_name(ctx: FileContext, call: Call) -> str:
    found = origin_call(ctx, call.receiver, call.offset)
    q = constructor_name(ctx, *found) if found else None
    return (q or "search").rsplit(".", 1)[-1]


def _is_search(ctx: FileContext, call: Call) -> bool:
    """The receiver is a `*SearchCV` or a scikit-learn `*CV` estimator (selection by CV)."""
    found = origin_call(ctx, call.receiver, call.offset)
    if found is None:
        return False
    q = constructor_name(ctx, *found) or ""
    last = q.rsplit(".", 1)[-1]
    if q.startswith(("sklearn.", "skopt.", "builtins.")) and last.endswith("SearchCV"):
        return True
    return q.startswith("sklearn.") and last.endswith("CV") and last[:1].isupper()


# -- SPK038: a transformer refitted on test data -----------------------------------------------
def _refits(ctx: FileContext, methods: tuple[str, ...]) -> Iterator[DetectorMatch]:
    fitted: dict[tuple[str, int], tuple[int, str]] = {}  # (name, binding line) -> (line, data)
    fits = calls(ctx, ("fit", "fit_transform", "partial_fit"))
    for call in sorted(fits, key=lambda c: (c.line, c.node.range().start.column)):
        if call.method not in ("fit", "fit_transform", "partial_fit") or call.receiver is None:
            continue
        if call.receiver.kind() != "identifier":
            continue
        data = argument(call.node, 0, "X")
        if data is None:
            continue
        obj = call.receiver.text()
        binding = ctx.infer.binding_at(obj, call.line)
        key = (obj, binding.line if binding else -1)
        role = data_role(ctx, data, call.offset)
        if role in (TEST, HELDOUT):
            earlier = fitted.get(key)
            if earlier is not None and call.method in methods:
                yield DetectorMatch(call.node, call.offset, {
                    "R": obj, "X": data.text(), "METHOD": call.method,
                    "ROLE": "test" if role == TEST else "validation",
                    "TRAIN": earlier[1], "LINE": str(earlier[0] + 1)})
        elif key not in fitted:
            fitted[key] = (call.line, data.text())


@detector("refit_transform_on_test")
def find_refit_transform_on_test(ctx: FileContext) -> Iterator[DetectorMatch]:
    return _refits(ctx, ("fit_transform",))


@detector("refit_on_test")
def find_refit_on_test(ctx: FileContext) -> Iterator[DetectorMatch]:
    return _refits(ctx, ("fit", "partial_fit"))


# -- SPK037: a transformer fitted on all the data before the split ------------------------------
_TRANSFORMERS = {
    # scaling / encoding / imputation learn statistics of the rows they see
    "StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler", "QuantileTransformer",
    "PowerTransformer", "OneHotEncoder", "OrdinalEncoder", "TargetEncoder", "KBinsDiscretizer",
    "SplineTransformer", "SimpleImputer", "KNNImputer", "IterativeImputer",
    # projections and supervised feature selection
    "PCA", "IncrementalPCA", "KernelPCA", "TruncatedSVD", "NMF", "FastICA", "FactorAnalysis",
    "SparsePCA", "LatentDirichletAllocation", "SelectKBest", "SelectPercentile", "SelectFpr",
    "SelectFdr", "SelectFwe", "GenericUnivariateSelect", "RFE", "RFECV", "SelectFromModel",
    "SequentialFeatureSelector",
    # text vocabularies and document frequencies
    "TfidfVectorizer", "CountVectorizer", "TfidfTransformer",
    # resampling creates synthetic rows from neighbours that may end up in the test set
    "SMOTE", "ADASYN", "BorderlineSMOTE", "SVMSMOTE", "SMOTENC", "KMeansSMOTE",
    "RandomOverSampler",
}
_SPLITTERS = SPLIT + _CV_FUNCTIONS
_SPLITTER_NAMES = tuple(f.rsplit(".", 1)[-1] for f in _SPLITTERS)
_FIT_METHODS = ("fit", "fit_transform", "fit_resample")


@detector("fit_before_split")
def find_fit_before_split(ctx: FileContext) -> Iterator[DetectorMatch]:
    splits = [c for c in sorted(calls(ctx, _SPLITTER_NAMES), key=lambda c: c.line)
              if callee_is(c, _SPLITTERS)]
    if not splits:
        return
    for call in sorted(calls(ctx, _FIT_METHODS), key=lambda c: c.line):
        if call.method not in _FIT_METHODS:
            continue
        transformer = _transformer_name(ctx, call)
        data = argument(call.node, 0, "X")
        ident = root_identifier(data)
        if transformer is None or ident is None or data_role(ctx, data, call.offset) is not None:
            continue
        for split in splits:
            if split.line <= call.line or split.scope != call.scope:
                continue
            if any(_fed_by_fit(ctx, arg, split.offset, call, ident.text())
                   for arg in _split_data(split)):
                yield DetectorMatch(call.node, call.offset, {
                    "T": transformer, "DATA": ident.text(),
                    "SPLIT": (split.qualname or "").rsplit(".", 1)[-1],
                    "LINE": str(split.line + 1)})
                break


def _transformer_name(ctx: FileContext, call: Call) -> str | None:
    found = origin_call(ctx, call.receiver, call.offset)
    q = constructor_name(ctx, *found) if found else None
    if not q or not q.startswith(("sklearn.", "imblearn.", "builtins.")):
        return None
    last = q.rsplit(".", 1)[-1]
    return last if last in _TRANSFORMERS else None


def _split_data(split: Call) -> list[SgNode]:
    args = positional(split.node)
    return args if callee_is(split, SPLIT) else args[1:3]


def _fed_by_fit(ctx: FileContext, expr: SgNode, offset: int, fit: Call, data: str,
                depth: int = 0) -> bool:
    """Does `expr` hold the data `fit` learned from, or a value computed from its output?"""
    ident = root_identifier(expr)
    if ident is None or depth > 6:
        return False
    name, line = ident.text(), line_of(ident, offset)
    binding = ctx.infer.binding_at(name, line)
    if binding is None or binding.line < fit.line:
        return name == data and binding is ctx.infer.binding_at(data, fit.line)
    if binding.value is None:
        return False
    if _uses_fitted(binding.value, binding.offset, fit):
        return True
    return any(_fed_by_fit(ctx, sub, binding.offset, fit, data, depth + 1)
               for sub in binding.value.find_all(kind="identifier")
               if sub.text() != name)


def _uses_fitted(value: SgNode, offset: int, fit: Call) -> bool:
    """`value` contains the fit call itself or a `.transform(...)` of the fitted object."""
    fit_range = (fit.node.range().start.index, fit.offset)
    receiver = fit.receiver.text() if fit.receiver is not None else None
    for node in value.find_all(kind="call"):
        if (node.range().start.index, offset) == fit_range:
            return True
        func = node.field("function")
        if func is not None and func.kind() == "attribute" and receiver is not None:
            obj, attr = func.field("object"), func.field("attribute")
            if obj is not None and attr is not None and obj.text() == receiver \
                    and attr.text() in ("transform", "fit_transform", "fit_resample"):
                return True
    return False
