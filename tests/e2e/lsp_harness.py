"""The test side of the e2e suite: a pytest-lsp client that remembers what it sent and got."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

SERVER = [sys.executable, "-m", "spark_lsp", "serve"]
CLIENT_NAMES = {"visual_studio_code": "Visual Studio Code", "neovim": "Neovim"}
SHORT_NAMES = {"visual_studio_code": "vscode", "neovim": "neovim"}
TIMEOUT = 20.0

# A file with one known mistake: SPK001 (`.values` on a DataFrame), with a non-ASCII character
# before it on the same line so that UTF-8 / UTF-16 columns differ.
MISTAKE = (
    "import pandas as pd\n"
    "\n"
    'sales_frame = pd.read_csv("sales.csv")\n'
    'label = "📊 total"; matrix = sales_frame.values\n'
    "print(matrix.sum())\n"
)
MISTAKE_LINE = 3


def units(text: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    if encoding == "utf-32":
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def lsp_lines(text: str) -> list[str]:
    """Lines as LSP clients count them: broken at \\r\\n, \\r and \\n only."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z", text)


def offset_of(text: str, pos: types.Position, encoding: str) -> int:
    lines = lsp_lines(text)
    start = sum(len(line) for line in lines[:pos.line])
    line = lines[pos.line] if pos.line < len(lines) else ""
    count = 0
    for i, ch in enumerate(line):
        if count >= pos.character:
            return start + i
        count += units(ch, encoding)
    return start + len(line.rstrip("\r\n"))


def apply_text_edits(text: str, edits: list[types.TextEdit], encoding: str) -> str:
    spans = sorted(((offset_of(text, e.range.start, encoding), offset_of(text, e.range.end, encoding),
                     e.new_text) for e in edits), reverse=True)
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text


def read_traces(home: Path) -> list[dict[str, Any]]:
    traces = []
    for path in sorted((home / "journal").glob("*.jsonl")):
        traces += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                   if line.strip()]
    return traces


async def wait_until(predicate: Callable[[], Any], timeout: float = TIMEOUT,
                     what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def wait_traces(home: Path, predicate: Callable[[dict[str, Any]], bool],
                      timeout: float = TIMEOUT) -> list[dict[str, Any]]:
    return await wait_until(lambda: [t for t in read_traces(home) if predicate(t)], timeout,
                            "a matching trace in the journal")


class SparkClient(LanguageClient):
    """pytest-lsp's client, remembering every publish with its version and each document's text."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.published: list[types.PublishDiagnosticsParams] = []
        self.texts: dict[str, str] = {}
        self.versions: dict[str, int] = {}
        self.encoding = "utf-16"
        self.spec = ""

    # -- session -----------------------------------------------------------------------------
    async def begin(self, spec: str, root: Path, options: Any = None) -> types.InitializeResult:
        self.spec = spec
        result = await self.initialize_session(types.InitializeParams(
            capabilities=client_capabilities(spec),
            client_info=types.ClientInfo(name=CLIENT_NAMES[spec]),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options=options,
        ))
        self.encoding = str(result.capabilities.position_encoding or "utf-16")
        return result

    # -- documents ---------------------------------------------------------------------------
    def open(self, uri: str, text: str) -> None:
        self.texts[uri], self.versions[uri] = text, 1
        self.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1,
                                                 text=text)))

    def replace(self, uri: str, text: str) -> int:
        """A full-document change; returns the new version."""
        self.texts[uri] = text
        self.versions[uri] += 1
        self.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
        return self.versions[uri]

    def edit(self, uri: str, edits: list[types.TextEdit]) -> int:
        """Incremental changes (applied in order, as a client sends them); returns the version."""
        text = self.texts[uri]
        changes = []
        for e in edits:
            text = apply_text_edits(text, [e], self.encoding)
            changes.append(types.TextDocumentContentChangePartial(range=e.range, text=e.new_text))
        self.texts[uri] = text
        self.versions[uri] += 1
        self.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            content_changes=changes))
        return self.versions[uri]

    def apply(self, uri: str, edit: types.WorkspaceEdit) -> int:
        """Apply a code action's WorkspaceEdit the way an editor does, and send the change."""
        edits: list[types.TextEdit] = []
        if edit.document_changes:
            for dc in edit.document_changes:
                assert isinstance(dc, types.TextDocumentEdit)
                assert dc.text_document.uri == uri
                assert dc.text_document.version in (None, self.versions[uri]), "stale edit"
                edits += [e for e in dc.edits if isinstance(e, types.TextEdit)]
        else:
            assert edit.changes is not None
            edits = list(edit.changes[uri])
        return self.replace(uri, apply_text_edits(self.texts[uri], edits, self.encoding))

    def save(self, uri: str) -> None:
        self.text_document_did_save(types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))

    def position(self, uri: str, needle: str, delta: int = 0) -> types.Position:
        """The client position of `needle` (plus `delta` code points) in the document."""
        text = self.texts[uri]
        offset = text.index(needle) + delta
        start = 0
        for line, content in enumerate(lsp_lines(text)):
            if offset < start + len(content.rstrip("\r\n")) + 1:
                return types.Position(line=line,
                                      character=units(text[start:offset], self.encoding))
            start += len(content)
        raise ValueError(needle)

    # -- waiting -----------------------------------------------------------------------------
    def publish_count(self, uri: str) -> int:
        return sum(1 for p in self.published if p.uri == uri)

    async def publishes(self, uri: str, count: int, timeout: float = TIMEOUT) -> None:
        """Wait until `uri` has been published at least `count` times."""
        await wait_until(lambda: self.publish_count(uri) >= count, timeout,
                         f"publish #{count} of {uri}")

    def latest(self, uri: str) -> types.PublishDiagnosticsParams | None:
        return next((p for p in reversed(self.published) if p.uri == uri), None)

    async def diagnostics_for(self, uri: str, version: int | None = None,
                              predicate: Callable[[list[types.Diagnostic]], bool] = lambda d: True,
                              timeout: float = TIMEOUT) -> list[types.Diagnostic]:
        """Wait for a publish of `uri` (at `version`, default: the latest sent) matching."""
        want = self.versions.get(uri) if version is None else version

        def ready() -> tuple[list[types.Diagnostic]] | None:
            p = self.latest(uri)
            if p is not None and p.version == want and predicate(list(p.diagnostics)):
                return (list(p.diagnostics),)
            return None

        (found,) = await wait_until(ready, timeout, f"diagnostics of {uri} v{want}")
        return found

    async def hover_at(self, uri: str, pos: types.Position) -> types.Hover | None:
        return await self.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=pos))

    async def actions_for(self, uri: str, diagnostics: list[types.Diagnostic]
                          ) -> list[types.CodeAction]:
        params = types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostics[0].range,
            context=types.CodeActionContext(diagnostics=diagnostics))
        # pygls' converter reads every `Command | CodeAction` of the answer as a Command (it
        # stringifies the action's `command` object): take the raw JSON and read CodeActions.
        msg_id = str(uuid.uuid4())
        future = self.protocol.send_request(types.TEXT_DOCUMENT_CODE_ACTION, params, msg_id=msg_id)
        self.protocol._result_types.pop(msg_id, None)
        raw = await asyncio.wrap_future(future)
        converter = self.protocol._converter
        return [converter.structure(a, types.CodeAction) for a in raw or []
                if not isinstance(a.get("command"), str)]

    async def run(self, command: types.Command) -> Any:
        return await self.workspace_execute_command_async(types.ExecuteCommandParams(
            command=command.command, arguments=command.arguments))


def _record_publish(client: SparkClient, params: types.PublishDiagnosticsParams) -> None:
    client.published.append(params)
    client.diagnostics[params.uri] = params.diagnostics


def make_client() -> SparkClient:
    client = SparkClient(converter_factory=default_converter)
    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES,
                                   types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: _record_publish})
    return client


CONFIG = ClientServerConfig(server_command=SERVER, client_factory=make_client)


def spark_diagnostics(diagnostics: list[types.Diagnostic], code: str = "SPK001"
                      ) -> list[types.Diagnostic]:
    """Only the diagnostics of `code` (other cards are added over time)."""
    return [d for d in diagnostics if d.source == "spark" and d.code == code]
