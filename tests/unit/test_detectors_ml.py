"""The ML, plotting and security detectors on real snippets: what they flag and what they leave."""

import textwrap

import pytest

from spark_lsp.analysis import load_default_cards
from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.detectors import DETECTORS
from spark_lsp.analysis.detectors.ml import HELDOUT, TEST, TRAIN, data_role, name_role
from spark_lsp.analysis.examples import analyzer_for, fix_code

CARDS = {c.code: c for c in load_default_cards()[0]}


def run(name: str, src: str) -> list[tuple[int, str, dict[str, str]]]:
    """(1-based line, matched text, metavariables) of each match of one detector."""
    ctx = FileContext.from_text(textwrap.dedent(src))
    return [(m.node.range().start.line + m.offset + 1, m.node.text(), m.metavars)
            for m in DETECTORS[name](ctx)]


def lines(name: str, src: str) -> list[int]:
    return [line for line, _, _ in run(name, src)]


def findings(code: str, src: str):
    return [f for f in analyzer_for(CARDS[code]).analyze(textwrap.dedent(src)) if f.code == code]


# -- roles of data ------------------------------------------------------------------------------
@pytest.mark.parametrize("name,role", [
    ("X_test", TEST), ("y_test", TEST), ("Xte", TEST), ("testX", TEST), ("test_df", TEST),
    ("X_test_scaled", TEST), ("dtest", TEST), ("holdout_X", TEST),
    ("X_val", HELDOUT), ("x_valid", HELDOUT), ("X_tr", TRAIN), ("train_df", TRAIN),
    ("test_size", None), ("n_test", None), ("y_test_pred", None), ("test_idx", None),
    ("X_train_val", None), ("test", None), ("latest", None), ("contest_x", None),
])
def test_name_role(name, role):
    assert name_role(name) == role


def _role_of(src: str, name: str) -> str | None:
    ctx = FileContext.from_text(textwrap.dedent(src))
    for block, root in ctx.roots():
        found = [n for n in root.find_all(kind="identifier") if n.text() == name]
        if found and block.start_line == max(b.start_line for b in ctx.blocks):
            return data_role(ctx, found[-1], block.start_line)
    raise AssertionError(f"{name} not on the last line")


def test_split_outputs_are_test_or_validation_by_dataflow():
    split = "from sklearn.model_selection import train_test_split\n"
    src = split + "Xa, Xb, ya, yb = train_test_split(X, y)\nuse(Xb)\n"
    assert _role_of(src, "Xb") == TEST
    assert _role_of(src.replace("use(Xb)", "use(Xa)"), "Xa") == TRAIN
    # the held-out part of a split of the training data is validation data
    src = split + "Xa, Xb, ya, yb = train_test_split(X_train, y_train)\nuse(Xb)\n"
    assert _role_of(src, "Xb") == HELDOUT
    # and so is a split output named like validation data
    src = split + "X_fit, X_val, y_fit, y_val = train_test_split(X, y)\nuse(X_val)\n"
    assert _role_of(src, "X_val") == HELDOUT


def test_role_follows_transforms_and_wrappers():
    src = """\
        from sklearn.model_selection import train_test_split
        import numpy as np
        Xa, Xb, ya, yb = train_test_split(X, y)
        Z = scaler.transform(Xb)
        W = np.asarray(Z)
        use(W)
    """
    assert _role_of(src, "W") == TEST
    src = "preds = model.predict(X_test)\nuse(preds)\n"
    assert _role_of(src, "preds") is None


# -- SPK036 -------------------------------------------------------------------------------------
def test_validation_on_test_set_is_flagged_with_dataflow_names():
    src = """\
        from sklearn.model_selection import train_test_split
        Xa, Xb, ya, yb = train_test_split(X, y)
        model.fit(Xa, ya, eval_set=[(Xa, ya), (Xb, yb)])
        model.fit(Xa, ya, validation_data=(Xb, yb))
        bst = xgb.train(params, dtrain, evals=[(dtest, "test")])
    """
    got = run("test_set_as_validation", src)
    assert [(line, meta["ARG"], meta["X"]) for line, _, meta in got] == [
        (3, "eval_set", "Xb"), (4, "validation_data", "Xb"), (5, "evals", "dtest")]


def test_validation_split_of_training_data_is_not_flagged():
    src = """\
        from sklearn.model_selection import train_test_split
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        Xa, Xb, ya, yb = train_test_split(X_train, y_train)
        model.fit(Xa, ya, eval_set=[(Xb, yb)])
        model.fit(Xa, ya, validation_data=(X_val, y_val), validation_split=0.1)
        model.predict(X_test, validation_data=(X_test, y_test))
    """
    assert run("test_set_as_validation", src) == []


# -- SPK037 -------------------------------------------------------------------------------------
def test_fit_before_split_through_intermediate_names():
    src = """\
        import pandas as pd
        from sklearn.decomposition import PCA
        from sklearn.model_selection import train_test_split
        pca = PCA(2)
        Z = pca.fit_transform(X)
        frame = pd.DataFrame(Z, columns=["a", "b"])
        train, test = train_test_split(frame)
    """
    got = run("fit_before_split", src)
    assert [(line, meta["T"], meta["SPLIT"], meta["LINE"]) for line, _, meta in got] == [
        (5, "PCA", "train_test_split", "7")]


def test_fit_before_split_precision():
    base = "from sklearn.model_selection import train_test_split\n" \
           "from sklearn.preprocessing import StandardScaler, LabelEncoder\n"
    # fitted on the training part: correct
    assert lines("fit_before_split", base + """\
X_train, X_test = train_test_split(X)
s = StandardScaler().fit(X_train)
X_test_s = s.transform(X_test)
""") == []
    # the split data was rebound to something unrelated after the fit
    assert lines("fit_before_split", base + """\
s = StandardScaler().fit(X)
X = load_other()
a, b = train_test_split(X)
""") == []
    # label encoding of the target before the split is fine
    assert lines("fit_before_split", base + """\
y = LabelEncoder().fit_transform(y)
a, b, c, d = train_test_split(X, y)
""") == []
    # split in another function
    assert lines("fit_before_split", base + """\
Z = StandardScaler().fit_transform(X)
def go():
    return train_test_split(Z)
""") == []


def test_resampling_before_split_is_flagged():
    src = """\
        from imblearn.over_sampling import SMOTE
        from sklearn.model_selection import train_test_split
        X_res, y_res = SMOTE().fit_resample(X, y)
        X_train, X_test, y_train, y_test = train_test_split(X_res, y_res)
    """
    assert lines("fit_before_split", src) == [3]


# -- SPK038 -------------------------------------------------------------------------------------
def test_refit_on_test_needs_an_earlier_fit_of_the_same_object():
    src = """\
        from sklearn.preprocessing import StandardScaler
        coords = StandardScaler().fit_transform(X_test)
        s = StandardScaler()
        a = s.fit_transform(X_train)
        b = s.fit_transform(X_test)
        s = StandardScaler()
        c = s.fit_transform(X_test)
    """
    got = run("refit_transform_on_test", src)
    assert [(line, meta["R"], meta["TRAIN"], meta["LINE"]) for line, _, meta in got] == [
        (5, "s", "X_train", "4")]


def test_refit_fix_uses_transform_and_fit_is_display_only():
    src = textwrap.dedent("""\
        from sklearn.preprocessing import OneHotEncoder
        enc = OneHotEncoder()
        enc.fit(X_train)
        enc.fit(X_test)
        Xt = enc.fit_transform(X_val, y_val)
    """)
    found = findings("SPK038", src)
    assert [(f.span.start.line, f.fix.applicability) for f in found] == [
        (3, "display"), (4, "unsafe")]
    assert "validation data" in found[1].message
    fixed = fix_code(analyzer_for(CARDS["SPK038"]), src, "SPK038")
    assert "Xt = enc.transform(X_val)\n" in fixed and "enc.fit(X_test)" in fixed


# -- SPK044 -------------------------------------------------------------------------------------
def test_search_and_cv_on_test_set():
    src = """\
        from sklearn.model_selection import GridSearchCV, cross_val_score
        from sklearn.linear_model import RidgeCV, LogisticRegression
        gs = GridSearchCV(LogisticRegression(), grid)
        gs.fit(X_test, y_test)
        cross_val_score(LogisticRegression(), X_test, y_test)
        RidgeCV().fit(X_test, y_test)
        LogisticRegression().fit(X_test, y_test)
        gs.fit(X_train, y_train)
        cross_val_score(LogisticRegression(), X, y)
    """
    assert [(line, meta["WHAT"]) for line, _, meta in run("search_on_test_set", src)] == [
        (4, "GridSearchCV"), (5, "cross_val_score"), (6, "RidgeCV")]


# -- SPK045 -------------------------------------------------------------------------------------
def test_hard_labels_to_auc_only_for_classifiers():
    src = """\
        from sklearn.metrics import roc_auc_score, log_loss
        from sklearn.linear_model import LogisticRegression, LinearRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        clf = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
        reg = LinearRegression().fit(X, y)
        pred = clf.predict(X_test)
        roc_auc_score(y_test, pred)
        roc_auc_score(y_test, reg.predict(X_test))
        roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])
        log_loss(y_test, y_pred=clf.predict(X_test))
        roc_auc_score(y_test, unknown.predict(X_test))
    """
    assert lines("hard_predictions_scored", src) == [8, 11]


# -- SPK035 -------------------------------------------------------------------------------------
TORCH_HEAD = "import torch\nfrom torch import nn\n"


def test_torch_inference_reports_what_is_missing():
    src = TORCH_HEAD + """\
model = nn.Sequential(nn.Linear(4, 2))
with torch.no_grad():
    for x, y in test_loader:
        out = model(x)
"""
    got = run("torch_inference_without_eval", src)
    assert [(line, meta["MISSING"]) for line, _, meta in got] == [(6, "`model.eval()`")]
    src = TORCH_HEAD + """\
model = nn.Sequential(nn.Linear(4, 2))
model.eval()
for x, y in val_loader:
    out = model(x)
"""
    got = run("torch_inference_without_eval", src)
    assert [(line, meta["MISSING"]) for line, _, meta in got] == [(6, "`torch.no_grad()`")]


def test_torch_inference_precision():
    # a loss module is not the model; training loops want gradients
    assert lines("torch_inference_without_eval", TORCH_HEAD + """\
model = nn.Linear(4, 2)
criterion = nn.CrossEntropyLoss()
model.eval()
with torch.no_grad():
    for x, y in test_loader:
        loss = criterion(model(x), y)
for x, y in train_loader:
    loss = criterion(model(x), y)
    loss.backward()
for x, y in val_loader:  # test-time adaptation wants gradients
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
""") == []
    # decorated with no_grad, called under inference_mode, or a Lightning hook
    assert lines("torch_inference_without_eval", TORCH_HEAD + """\
@torch.no_grad()
def predict(model, x):
    model.eval()
    return model(x)

def evaluate(model, loader):
    return [model(x) for x, _ in loader]

with torch.inference_mode():
    evaluate(net, val_loader)

class Lit:
    def validation_step(self, batch, i):
        model = self.model
        return model(batch)
""") == []
    # not torch at all, or a model that may be Keras
    assert lines("torch_inference_without_eval", "for x in test_loader:\n    model(x)\n") == []
    assert lines("torch_inference_without_eval", TORCH_HEAD + """\
import tensorflow as tf
def predict(model, x):
    return model(x)
""") == []
    # an sklearn import does not hide a torch model passed as a parameter
    assert lines("torch_inference_without_eval", TORCH_HEAD + """\
from sklearn.metrics import accuracy_score
def evaluate(model, loader):
    return [model(x) for x, _ in loader]
""") == [5]


def test_torch_model_from_local_module_class_and_half_typed_file():
    src = TORCH_HEAD + """\
class Net(nn.Module):
    def forward(self, x):
        return x

net = Net()
def broken(:
for batch in valid_dl:
    net(batch)
"""
    assert lines("torch_inference_without_eval", src) == [10]


# -- plotting -----------------------------------------------------------------------------------
def test_plt_calls_map_to_the_held_axes_and_figure():
    src = textwrap.dedent("""\
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([1, 2])
        plt.title("t")
        plt.xlim(0, 1)
        plt.tight_layout()
        plt.xticks(rotation=45)
        plt.show()
    """)
    fixed = fix_code(analyzer_for(CARDS["SPK039"]), src, "SPK039")
    assert ('ax.set_title("t")\nax.set_xlim(0, 1)\nfig.tight_layout()\n'
            'plt.xticks(rotation=45)\n') in fixed


def test_plt_mapping_stops_at_anything_that_changes_the_current_axes():
    assert lines("plt_with_held_axes", """\
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([1, 2])
        df.plot()
        plt.title("goes to the pandas figure")
        fig, ax = plt.subplots()
        ax.plot([1])
        plt.sca(other)
        plt.ylabel("other axes")
        fig, axs = plt.subplots(2, 1)
        axs[0].plot([1])
        plt.xlabel("?")
    """) == []
    # `plt.imshow` sets the image that a bare `plt.colorbar()` uses; `ax.imshow` does not
    assert lines("plt_with_held_axes", """\
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.set_title("image")
        plt.imshow([[1, 2], [3, 4]])
        plt.colorbar()
    """) == []


def test_show_in_for_loop_only():
    src = """\
        import matplotlib.pyplot as plt
        for col in cols:
            plt.hist(df[col])
            plt.show()
        while running:
            plt.show()
        def f():
            plt.show()
    """
    assert lines("show_in_loop", src) == [4]


def test_unclosed_figures_need_a_long_loop_and_a_save():
    assert lines("figures_not_closed", """\
        import matplotlib.pyplot as plt
        for i in range(21):
            fig, ax = plt.subplots()
            fig.savefig(f"{i}.png")
        for i in range(20):
            fig, ax = plt.subplots()
            fig.savefig(f"{i}.png")
        for name in names:
            plt.figure()
            for x in xs:
                plt.plot(x)
            plt.savefig(name)
    """) == [4, 12]


def test_savefig_after_show_crosses_top_level_blocks():
    src = """\
        import matplotlib.pyplot as plt
        plt.plot([1])
        plt.show()
        print("done")
        plt.savefig("a.png")
        plt.show()
        plt.figure()
        plt.savefig("b.png")
    """
    assert lines("savefig_after_show", src) == [5]


# -- security -----------------------------------------------------------------------------------
def test_shell_commands_from_data():
    src = """\
        import os
        import shlex
        import subprocess
        BASE = "ls -l"
        subprocess.run(BASE, shell=True)
        subprocess.run(BASE + " /tmp", shell=True)
        def go(path):
            subprocess.run("ls " + path, shell=True)
            subprocess.run(["ls", path])
            subprocess.run(f"ls {shlex.quote(path)}", shell=True)
            os.system(f"rm {path}")
    """
    got = run("shell_command_from_data", src)
    assert [(line, meta["F"]) for line, _, meta in got] == [
        (8, "subprocess.run"), (11, "os.system")]


def test_session_verify_disabled():
    src = """\
        import requests
        s = requests.Session()
        s.verify = False
        s.get("https://x", verify=False)
        with requests.Session() as t:
            t.post("https://x", verify=False)
        other.verify = False
        other.get("https://x", verify=False)
    """
    assert sorted(lines("session_verify_disabled", src)) == [3, 4, 6]


def test_local_definitions_shadow_builtins_and_imports():
    assert findings("SPK030", "x = eval(data)\n")
    assert not findings("SPK030", "def eval(s):\n    return s\nx = eval(data)\n")
    assert not findings("SPK030", "x = eval(data)\ndef eval(s):\n    return s\n")
    # a method named eval binds nothing at module level
    assert findings("SPK030", "class M:\n    def eval(self):\n        pass\nx = eval(data)\n")


def test_callee_resolution_in_fragments_and_private_modules():
    from spark_lsp.analysis.detectors._nodes import callee_is, calls

    src = textwrap.dedent("""\
        from sklearn.model_selection._split import train_test_split as tts
        import torch
        tts(X)
        train_test_split(X)
        compile(src, "f", "exec")
        torch.hub.load("repo", "model")
    """)
    got = {c.node.text().split("(")[0]: c for c in calls(FileContext.from_text(src))}
    assert callee_is(got["tts"], ["sklearn.model_selection.train_test_split"])
    assert callee_is(got["train_test_split"], ["sklearn.model_selection.train_test_split"])
    assert not callee_is(got["compile"], ["torch.compile"])
    assert not callee_is(got["torch.hub.load"], ["torch.load"])
