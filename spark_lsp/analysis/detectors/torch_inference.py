"""PyTorch inference without `model.eval()` and/or without a no-grad context.

An inference call is a torch module called inside a loop over a test/validation loader, or
inside a function named for inference (`predict`, `evaluate`, `infer`, ...). The model is known
from dataflow (`torch.nn.Sequential(...)`, `torchvision.models.*`, `torch.load`, an instance of
a class of the file that subclasses `nn.Module`, a parameter annotated `nn.Module`), or, in a
file that uses torch and no other deep-learning library, from a conventional name (`model`,
`net`). Evidence of `.eval()` anywhere in the file, and of a no-grad context anywhere around
the call (including a no-grad block around a call of the enclosing function), silences it:
a miss costs less than a wrong warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from ast_grep_py import SgNode

from spark_lsp.analysis.context import FileContext
from spark_lsp.analysis.detectors import DetectorMatch, detector
from spark_lsp.analysis.detectors._nodes import (
    Call,
    argument,
    call_info,
    callee_is,
    calls,
    enclosing_loops,
    is_false,
    keyword,
    line_of,
    origin_call,
    positional,
    words,
)
from spark_lsp.analysis.source import parse_block

_NO_GRAD = ("torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad",
            "torch.autograd.grad_mode.no_grad", "torch.autograd.grad_mode.inference_mode")
_SET_GRAD = ("torch.set_grad_enabled", "torch.autograd.set_grad_enabled")
_SET_GRAD_NAMES = ("set_grad_enabled",)
_NO_GRAD_NAMES = ("no_grad", "inference_mode", "set_grad_enabled")
_MODEL_FACTORIES = ("torch.nn.Sequential", "torch.nn.Linear", "torch.nn.LSTM", "torch.nn.GRU",
                    "torch.nn.RNN", "torch.nn.Transformer", "torch.nn.TransformerEncoder",
                    "torch.nn.Conv1d", "torch.nn.Conv2d", "torch.nn.Conv3d", "torch.load",
                    "torch.jit.load", "torch.jit.script", "torch.jit.trace", "torch.compile",
                    "timm.create_model")
_MODULE_BASES = ("torch.nn.Module", "torch.nn.modules.module.Module",
                 "pytorch_lightning.LightningModule", "lightning.LightningModule",
                 "lightning.pytorch.LightningModule")
# Libraries whose models are called like functions too (and Hugging Face models, which
# `from_pretrained` already puts in eval mode): with them around, a name says nothing.
_OTHER_DL = ("tensorflow", "keras", "transformers", "jax", "flax", "mxnet", "paddle")
_MODEL_NAME = re.compile(r"^(model|net|network|classifier|encoder|decoder|cnn|rnn|lstm|mlp|"
                         r"resnet|backbone)(_?\w*)?$", re.IGNORECASE)
_INFERENCE_WORDS = {"predict", "prediction", "predictions", "evaluate", "evaluation", "infer",
                    "inference", "validate", "validation"}
_INFERENCE_NAMES = {"test", "eval", "test_epoch", "eval_epoch", "val_epoch", "valid_epoch",
                    "run_test", "eval_model"}
_LOADER_ROLE = {"test", "val", "valid", "validation", "eval", "evaluation", "dev", "holdout"}
_LOADER_KIND = {"loader", "dataloader", "dl", "iter", "iterator", "batches", "ds", "dataset",
                "set", "data", "gen", "generator", "images", "samples", "inputs", "x"}
_COMPACT_LOADER = re.compile(r"^(test|val|valid|eval|dev)(loader|dl|set|data|dataset|batches)s?$")


@dataclass(frozen=True)
class _TorchFile:
    """What the whole file says about evaluation mode and gradients."""

    has_eval: bool  # `.eval()` / `.train(False)` somewhere
    global_no_grad: bool  # `torch.set_grad_enabled(False)` somewhere
    guarded_functions: frozenset[str]  # functions called inside a no-grad context somewhere
    module_classes: frozenset[str]  # classes of the file that are `nn.Module`s
    heuristic: bool  # no other deep-learning library: a conventional name says "model"


def _torch_file(ctx: FileContext) -> _TorchFile:
    return _TorchFile(
        has_eval=any(_switches_to_eval(c) for c in calls(ctx, ("eval", "train"))),
        global_no_grad=any(callee_is(c, _SET_GRAD) and is_false(argument(c.node, 0, "mode"))
                           for c in calls(ctx, _SET_GRAD_NAMES)),
        guarded_functions=frozenset(_functions_called_without_grad(ctx)),
        module_classes=frozenset(_module_classes(ctx)),
        heuristic=not any(ctx.facts.uses(lib) for lib in _OTHER_DL))


# Block-scoped: what it needs of the rest of the file is `_TorchFile` (a summary).
@detector("torch_inference_without_eval", scope="block")
def find_torch_inference_without_eval(ctx: FileContext) -> Iterator[DetectorMatch]:
    if not ctx.facts.uses("torch"):
        return
    for call in calls(ctx):
        func = call.node.field("function")
        if func is None or func.kind() != "identifier":
            continue
        context = _inference_context(call.node)
        if context is None or _trains(context):
            continue
        whole = ctx.summary(_torch_file)
        if not _is_model(ctx, func, call.offset, whole.module_classes, whole.heuristic):
            continue
        missing = []
        if not whole.has_eval:
            missing.append(f"{func.text()}.eval()")
        if not (whole.global_no_grad or _under_no_grad(ctx, call, whole.guarded_functions)):
            missing.append("torch.no_grad()")
        if missing:
            yield DetectorMatch(call.node, call.offset, {
                "MODEL": func.text(), "MISSING": " and ".join(f"`{m}`" for m in missing)})


def _switches_to_eval(call: Call) -> bool:
    args = positional(call.node)
    arguments = call.node.field("arguments")
    if call.method == "eval" and arguments is not None and not arguments.named_children():
        return True
    return call.method == "train" and (bool(args) and is_false(args[0])
                                       or is_false(keyword(call.node, "mode")))


def _no_grad_item(ctx: FileContext, node: SgNode, offset: int) -> bool:
    """`torch.no_grad()`, `torch.inference_mode()`, `torch.set_grad_enabled(False)`."""
    if node.kind() != "call":
        return False
    info = call_info(ctx, node, offset)
    if callee_is(info, _NO_GRAD):
        return True
    return callee_is(info, _SET_GRAD) and is_false(argument(node, 0, "mode"))


def _guarded(ctx: FileContext, node: SgNode, offset: int) -> bool:
    """Inside a no-grad `with` block or a function decorated with a no-grad decorator."""
    for anc in node.ancestors():
        if anc.kind() == "with_statement":
            clause = next((c for c in anc.children() if c.kind() == "with_clause"), None)
            for item in clause.named_children() if clause is not None else []:
                value = item.field("value") or _first(item.named_children())
                if value is not None and _no_grad_item(ctx, value, offset):
                    return True
        if anc.kind() == "decorated_definition":
            for dec in anc.children():
                expr = _first(dec.named_children()) if dec.kind() == "decorator" else None
                if expr is None:
                    continue
                if _no_grad_item(ctx, expr, offset):
                    return True  # @torch.no_grad()
                if expr.kind() == "attribute" and ctx.qualname_of(expr, offset) in _NO_GRAD:
                    return True  # @torch.no_grad
    return False


def _first(nodes: list[SgNode]) -> SgNode | None:
    return nodes[0] if nodes else None


def _functions_called_without_grad(ctx: FileContext) -> set[str]:
    """Names of the functions called inside a no-grad context somewhere in the file."""
    names = set()
    # a block without a no-grad context (which names one of these) has no guarded call
    for block in ctx.blocks_with(_NO_GRAD_NAMES):
        for c in calls(ctx.view(block)):
            func = c.node.field("function")
            if func is not None and func.kind() == "identifier" and _guarded(ctx, c.node, c.offset):
                names.add(func.text())
    return names


def _under_no_grad(ctx: FileContext, call: Call, guarded_functions: frozenset[str]) -> bool:
    if _guarded(ctx, call.node, call.offset):
        return True
    for anc in call.node.ancestors():
        if anc.kind() == "function_definition":
            name = anc.field("name")
            if name is not None and name.text() in guarded_functions:
                return True
    return False


def _module_classes(ctx: FileContext) -> set[str]:
    """Classes of this file that subclass `nn.Module` (directly or through each other)."""
    found: set[str] = set()
    classes = [(name, bases, block.start_line) for block in ctx.blocks
               for name, bases in _classes_with_bases(block.text)]
    changed = True
    while changed:
        changed = False
        for name, bases, offset in classes:
            if name in found:
                continue
            if any(base.text() in found or (base.kind() in ("identifier", "attribute")
                                            and ctx.qualname_of(base, offset) in _MODULE_BASES)
                   for base in bases):
                found.add(name)
                changed = True
    return {n for n in found if not n.endswith("Loss")}


@lru_cache(maxsize=20_000)
def _classes_with_bases(block_text: str) -> tuple[tuple[str, tuple[SgNode, ...]], ...]:
    """(name, base nodes) of the classes of a block that have bases."""
    if "class" not in block_text:
        return ()
    found = []
    for node in parse_block(block_text).find_all(kind="class_definition"):
        name_node, bases_node = node.field("name"), node.field("superclasses")
        if name_node is not None and bases_node is not None:
            found.append((name_node.text(), tuple(bases_node.named_children())))
    return tuple(found)


def _is_model(ctx: FileContext, func: SgNode, offset: int, module_classes: frozenset[str],
              heuristic: bool) -> bool:
    name = func.text()
    found = origin_call(ctx, func, offset)
    if found is None:
        if ctx.type_of(func, offset) == "torch.Module":
            return True  # a parameter annotated `nn.Module`
        binding = ctx.infer.binding_at(name, line_of(func, offset))
        unknown = binding is None or binding.type == "param"
        return heuristic and unknown and bool(_MODEL_NAME.match(name))
    node, off = found
    info = call_info(ctx, node, off)
    if callee_is(info, _MODEL_FACTORIES) or (info.qualname or "").startswith("torchvision.models."):
        return True
    if _constructed_from(node, module_classes):
        return True
    # `model = build_model()`: a function of this file (or of an unknown module) built it
    local = info.qualname is None or info.qualname.startswith("builtins.")
    return heuristic and local and info.method is None and bool(_MODEL_NAME.match(name))


def _constructed_from(call: SgNode, module_classes: frozenset[str]) -> bool:
    func = call.field("function")
    return func is not None and func.kind() == "identifier" and func.text() in module_classes


def _inference_context(node: SgNode) -> SgNode | None:
    """The loop over evaluation data, or the inference function, that holds the call."""
    for loop in enclosing_loops(node):
        if loop.kind() == "for_statement" and _iterates_evaluation_data(loop.field("right")):
            return loop
    for anc in node.ancestors():
        if anc.kind() == "function_definition":
            name = anc.field("name")
            return anc if name is not None and _inference_name(name.text()) else None
    return None


def _iterates_evaluation_data(iterable: SgNode | None) -> bool:
    if iterable is None:
        return False
    for node in [iterable, *iterable.find_all(kind="identifier")]:
        if node.kind() != "identifier":
            continue
        name = node.text()
        ws = set(words(name))
        if ws & _LOADER_ROLE and ws & _LOADER_KIND or _COMPACT_LOADER.match(name.lower()):
            return True
    for s in iterable.find_all(kind="string_content"):
        if s.text() in ("val", "valid", "validation", "test", "eval"):
            return True  # dataloaders["val"]
    return False


def _inference_name(name: str) -> bool:
    low = name.lower()
    if low.endswith("_step") or low.startswith(("on_", "training", "train")):
        return False  # Lightning hooks run under no_grad/eval already; training code is not
    return low in _INFERENCE_NAMES or bool(set(low.split("_")) & _INFERENCE_WORDS)


def _trains(context: SgNode) -> bool:
    """Gradients are wanted here: the block calls `.backward()` or an optimizer `.step()`."""
    for node in context.find_all(kind="call"):
        func = node.field("function")
        attr = func.field("attribute") if func is not None and func.kind() == "attribute" else None
        if attr is not None and attr.text() in ("backward", "step", "zero_grad"):
            return True
    return False
