"""The language server: session state on `SparkServer`, and short LSP handlers wired to it
(document sync, diagnostics, hover, code actions here; workspace commands in `commands.py`).

Handlers read state, call the core (analysis, outcomes, hover and action builders) and convert;
each is `guarded`, so one failing feature logs, tells the user once, and the server keeps going.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import FeatureRequestError
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from spark_lsp import __version__
from spark_lsp.analysis import Analyzer, Card, installed_versions
from spark_lsp.check import make_analyzer
from spark_lsp.config import Settings, spark_home
from spark_lsp.kb.storage import use_store
from spark_lsp.kb.traces import Trace
from spark_lsp.learning.suppress import workspace_id
from spark_lsp.learning.team import TeamState, load_team_state, team_analyzer
from spark_lsp.memory.privacy import warm_up_in_background
from spark_lsp.server import actions
from spark_lsp.server.ask import (
    ASK_KIND,
    HOVER_WAIT,
    AskFeature,
    ask_action,
    hover_extra,
    wants_ask,
)
from spark_lsp.server.commands import register_commands
from spark_lsp.server.convert import char_column
from spark_lsp.server.docs_hover import describe_at_async, doc_hover_text
from spark_lsp.server.documents import DocumentStore, refresh
from spark_lsp.server.errors import guarded
from spark_lsp.server.hover import hover_text
from spark_lsp.server.memory_watch import MemoryFeature
from spark_lsp.server.organic import OrganicTracker, Rewrite
from spark_lsp.server.other_answers import (
    actions_for,
    hover_for,
)
from spark_lsp.server.other_diagnostics import (
    OTHER_DIAGNOSTICS,
    OtherDiagnosticsFeature,
    SparkProtocol,
)
from spark_lsp.server.outcomes import OutcomeTracker, TraceSink
from spark_lsp.server.settings import (
    SECTION,
    analysis_options,
    client_name,
    resolve_settings,
)
from spark_lsp.server.stdio import ChunkedStdio
from spark_lsp.server.workspace import LspWorkspace

log = logging.getLogger(__name__)


class SparkServer(ChunkedStdio, LanguageServer):
    """pygls server plus Spark's session: settings, analyzer, documents, trace journal."""

    def __init__(self) -> None:
        super().__init__("spark", __version__,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         protocol_cls=SparkProtocol)
        self.settings = Settings()
        self.analyzer: Analyzer = Analyzer([])
        self.cards: dict[str, Card] = {}
        self.card_problems: list[str] = []
        self.documents = DocumentStore()
        self.session_ignore: set[str] = set()
        self.generation = 0  # bumped when settings change: in-flight analyses become stale
        self.client = "unknown"
        self.root: Path | None = None
        self.init_options: Any = None
        self.configuration: Any = None
        self.analysis_executor = ThreadPoolExecutor(1, thread_name_prefix="spark-analysis")
        self.journal_executor = ThreadPoolExecutor(1, thread_name_prefix="spark-journal")
        self.sink = TraceSink(spark_home)
        warm_up_in_background()  # secrets redaction of traces: its detector loads meanwhile
        self.memory = MemoryFeature(self)  # the team memory: followed, hot-reloaded
        self._versions: dict[str, str] = {}
        self._reported: set[str] = set()
        self._trackers: dict[str, OutcomeTracker] = {}
        self._organic: dict[str, OrganicTracker] = {}
        self.team = TeamState()  # the team's experience: trust, rejected suggestions (learning/)
        # Traces wait here until the editor's configuration is known: it may turn tracing off.
        self._held: list[Trace] | None = []

    # -- client facts ------------------------------------------------------------------------
    @property
    def encoding(self) -> str:
        return str(self.workspace.position_encoding or types.PositionEncodingKind.Utf16)

    def client_supports(self, path: str) -> bool:
        return bool(get_capability(self.client_capabilities, path, False))

    # -- messages ------------------------------------------------------------------------------
    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def report_failure(self, feature: str, error: BaseException) -> None:
        """Tell the user the first time a feature fails; the log has every failure."""
        if feature in self._reported:
            return
        self._reported.add(feature)
        self.show(f"Spark: {feature.replace('_', ' ')} failed ({type(error).__name__}: {error}). "
                  "Spark keeps running; details are in its log.", types.MessageType.Error)

    def report_server_error(self, error: Exception, source: Any) -> None:
        if source is FeatureRequestError:
            return  # the client already has the error as the response to its request
        log.error("protocol error (%s): %s", getattr(source, "__name__", source), error)
        self.report_failure("message handling", error)

    # -- settings ------------------------------------------------------------------------------
    def start_session(self, params: types.InitializeParams) -> None:
        self.client = client_name(params.client_info.name if params.client_info else None)
        root = self.workspace.root_path or next(
            (to_fs_path(f.uri) for f in self.workspace.folders.values()), None)
        self.root = Path(root) if root else None
        self.init_options = params.initialization_options
        self.settings = resolve_settings(self.root, self.init_options, None, self.client)
        self.analyzer, self.cards, self.card_problems = make_analyzer(self.settings)
        self._versions = {**installed_versions(), **self.settings.versions}
        self.load_team()

    def update_settings(self, configuration: Any) -> None:
        """New editor configuration: re-resolve settings, republish if anything changed."""
        self.configuration = configuration
        settings = resolve_settings(self.root, self.init_options, configuration, self.client)
        if settings == self.settings:
            return
        if (settings.cards, settings.versions) != (self.settings.cards, self.settings.versions):
            self.analyzer, self.cards, self.card_problems = make_analyzer(settings,
                                                                         self.memory.cards)
            self._versions = {**installed_versions(), **settings.versions}
        self.settings = settings
        self.memory.follow(settings)
        self.apply_options()

    def load_team(self) -> None:
        """The team's experience for this workspace (read once per session; never fatal)."""
        use_store(self.settings.memory_store)  # the workspace's memory store, for every read
        try:
            self.team = load_team_state(spark_home(), workspace_id(self.root))
        except Exception as exc:  # noqa: BLE001 - a broken knowledge base must not stop the editor
            log.warning("team experience not loaded: %s", exc)
            self.team = TeamState(workspace_id(self.root))
        self.cards.update({c.code: c for c in self.team.learned if c.code not in self.cards})
        self.apply_options()

    def apply_options(self) -> None:
        # A fresh Analyzer over the same compiled cards: it memoises which codes are active. The
        # team's trust sets severities, hides cards it rejects and suggestions rejected here.
        self.analyzer = team_analyzer(self.analyzer.cards,
                                      analysis_options(self.settings, self._versions,
                                                       self.session_ignore | self.memory.suppressed),
                                      self.team)
        self.generation += 1
        self.republish()

    def republish(self) -> None:
        for state in self.documents:
            self.documents.schedule(state, partial(refresh, self, state.uri, 0))

    async def pull_configuration(self) -> None:
        try:
            if not self.client_supports("workspace.configuration"):
                return
            result = await self.workspace_configuration_async(types.ConfigurationParams(items=[
                types.ConfigurationItem(section=SECTION, scope_uri=self.workspace.root_uri)]))
            self.update_settings(result[0] if result else None)
        finally:
            held, self._held = self._held, None
            if held:
                self.record(held)

    def disable_code(self, code: str) -> None:
        self.session_ignore.add(code)
        self.apply_options()
        if self.root is not None and (self.root / "pyproject.toml").is_file():
            self.show(f"Spark: {code} is disabled until the editor restarts. To keep it disabled "
                      f'in this project, add `ignore = ["{code}"]` under `[tool.spark]` in '
                      "pyproject.toml.")

    # -- traces --------------------------------------------------------------------------------
    @property
    def installed_versions(self) -> dict[str, str]:
        """Library versions of the project (installed, overridden by settings)."""
        return self._versions

    def versions_for(self, code: str) -> dict[str, str]:
        card = self.cards.get(code)
        libraries = card.libraries if card else {}
        return {lib: self._versions[lib] for lib in libraries if lib in self._versions}

    def tracker(self, uri: str) -> OutcomeTracker:
        """The document's outcomes this session (kept across close and reopen)."""
        if uri not in self._trackers:
            self._trackers[uri] = OutcomeTracker(uri, self.client, self.versions_for,
                                                 self.team.workspace)
        return self._trackers[uri]

    def organic_tracker(self, uri: str) -> OrganicTracker:
        """The document's rewrites of library calls this session (organic experience)."""
        if uri not in self._organic:
            self._organic[uri] = OrganicTracker(
                uri, self.client, lambda lib: {lib: self._versions.get(lib, "")},
                self.team.workspace)
        return self._organic[uri]

    def record_rewrites(self, tracker: OrganicTracker, rewrites: list[Rewrite]) -> None:
        """Turn finished rewrites into organic traces in the journal's worker thread (parsing
        stays off the event loop), then record them."""
        if not rewrites or not self.settings.trace:
            return
        loop = asyncio.get_running_loop()

        def work() -> None:
            traces = tracker.traces(rewrites)
            if traces:
                try:
                    loop.call_soon_threadsafe(self.record, traces)
                except RuntimeError:  # the loop has closed: the server is exiting
                    pass

        self.journal_executor.submit(work).add_done_callback(_log_worker_failure)

    def record(self, traces: list[Trace]) -> None:
        """Append traces to the journal in a worker thread (when trace recording is on)."""
        if not traces or not self.settings.trace:
            return
        if self._held is not None:
            self._held += traces
            return
        future = self.journal_executor.submit(self.sink.write, traces)
        loop = asyncio.get_running_loop()

        def written(f: Future[None]) -> None:
            error = f.exception()
            if error is not None:
                log.warning("cannot write the trace journal: %s", error)
                try:
                    loop.call_soon_threadsafe(self._journal_failed, error)
                except RuntimeError:  # the loop has closed: the server is exiting
                    pass

        future.add_done_callback(written)

    def _journal_failed(self, error: BaseException) -> None:
        if "journal" not in self._reported:
            self._reported.add("journal")
            self.show(f"Spark cannot record traces in {spark_home()}: {error}",
                      types.MessageType.Warning)

    def settle_all(self) -> None:
        """Decide pending corrections of every document and write them now."""
        traces, self._held = list(self._held or []), None
        for state in self.documents:
            if state.latest is not None:
                traces += state.outcomes.settle(state.latest.text, state.latest.findings)
                if state.organic is not None:
                    traces += state.organic.traces(state.organic.settle(state.latest.text))
        if traces and self.settings.trace:
            try:
                self.sink.write(traces)
            except OSError as exc:
                log.warning("cannot write the trace journal: %s", exc)

    def shutdown(self) -> None:
        self.memory.stop()
        super().shutdown()
        self.analysis_executor.shutdown(wait=False, cancel_futures=True)
        self.journal_executor.shutdown(wait=True)


def _log_worker_failure(future: Future[None]) -> None:
    error = future.exception()
    if error is not None:
        log.warning("organic traces not recorded: %s", error)


def create_server() -> SparkServer:
    server = SparkServer()
    asker = AskFeature()
    others = OtherDiagnosticsFeature(asker)  # other tools' diagnostics, forwarded by the editor

    @server.feature(types.INITIALIZE)
    @guarded("initialize")
    def initialize(ls: SparkServer, params: types.InitializeParams) -> None:
        # pygls built the workspace just before calling us; ours breaks lines like the client.
        ls.protocol._workspace = LspWorkspace.like(ls.workspace)
        ls.start_session(params)

    @server.feature(types.INITIALIZED)
    @guarded("configuration")
    async def initialized(ls: SparkServer, params: types.InitializedParams) -> None:
        if ls.card_problems:
            ls.show(f"Spark skipped {len(ls.card_problems)} practice card(s) with errors; "
                    "see its log.", types.MessageType.Warning)
        ls.memory.follow(ls.settings)  # the editor's configuration may change it just below
        await ls.pull_configuration()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    @guarded("configuration")
    async def did_change_configuration(ls: SparkServer,
                                       params: types.DidChangeConfigurationParams) -> None:
        if ls.client_supports("workspace.configuration"):
            await ls.pull_configuration()
        else:
            ls.update_settings(params.settings)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @guarded("diagnostics")
    def did_open(ls: SparkServer, params: types.DidOpenTextDocumentParams) -> None:
        uri = params.text_document.uri
        state = ls.documents.open(uri, ls.tracker(uri), ls.organic_tracker(uri))
        ls.documents.schedule(state, lambda: refresh(ls, uri, 0))
        others.opened(ls, uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @guarded("diagnostics")
    def did_change(ls: SparkServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        state = ls.documents.get(uri)
        if state is not None:
            delay = ls.settings.debounce_ms / 1000
            ls.documents.schedule(state, lambda: refresh(ls, uri, delay))

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    @guarded("diagnostics")
    def did_save(ls: SparkServer, params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        state = ls.documents.get(uri)
        if state is not None:
            ls.documents.schedule(state, lambda: refresh(ls, uri, 0, settle=True))

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @guarded("diagnostics")
    def did_close(ls: SparkServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        state = ls.documents.close(uri)
        others.closed(uri)
        if state is not None and state.latest is not None:
            ls.record(state.outcomes.settle(state.latest.text, state.latest.findings))
            if state.organic is not None:
                ls.record_rewrites(state.organic, state.organic.settle(state.latest.text))
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @guarded("hover")
    async def hover(ls: SparkServer, params: types.HoverParams) -> types.Hover | None:
        uri = params.text_document.uri
        state = ls.documents.get(uri)
        if state is None:
            return None
        doc = ls.workspace.get_text_document(uri)
        found = state.finding_at(doc.version, params.position)
        formats = get_capability(ls.client_capabilities, "text_document.hover.content_format", [])
        markdown = not formats or types.MarkupKind.Markdown in formats
        kind = types.MarkupKind.Markdown if markdown else types.MarkupKind.PlainText
        other = await hover_for(others, ls, uri, params.position, markdown,  # other tools'
                                found[0].code if found else None)
        if found is None:  # any call or attribute of a documented library: its documentation
            docs = await _docs_hover(ls, doc.source, params.position, kind)
            if not other:
                return docs
            if docs is not None and isinstance(docs.contents, types.MarkupContent):
                other += "\n\n---\n\n" + docs.contents.value
            return types.Hover(contents=types.MarkupContent(kind=kind, value=other))
        finding, diagnostic, lines = found
        text = hover_text(finding, ls.cards.get(finding.code), lines, markdown,
                          team_note=ls.team.hover_note(finding.code))
        text += await _recommendation_extra(ls, uri, finding, markdown)
        if other:
            text += "\n\n---\n\n" + other
        return types.Hover(contents=types.MarkupContent(kind=kind, value=text),
                           range=diagnostic.range)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix,
                                                               ASK_KIND]))
    @guarded("code_actions")
    async def code_action(ls: SparkServer, params: types.CodeActionParams
                          ) -> list[types.CodeAction] | None:
        uri = params.text_document.uri
        state = ls.documents.get(uri)
        if state is None:
            return None
        found: list[types.CodeAction] = []
        if state.latest is not None and actions.wants_quickfix(params.context.only):
            doc = ls.workspace.get_text_document(uri)
            index = state.index(doc.version, lambda: doc.source, ls.encoding)
            document_changes = ls.client_supports("workspace.workspace_edit.document_changes")
            found += actions.code_actions(uri, list(params.context.diagnostics), index,
                                          doc.version, document_changes, state.data_for)
        found += await actions_for(others, ls, uri, params)  # on other tools' diagnostics
        if wants_ask(params.context.only):
            found.append(ask_action(uri, params.range))
        return found or None

    @server.feature(OTHER_DIAGNOSTICS)
    @guarded("other_diagnostics")
    def other_diagnostics(ls: SparkServer, params: Any) -> None:
        others.receive(ls, params)

    assert isinstance(server.protocol, SparkProtocol)
    server.protocol.other_diagnostics_handler = partial(other_diagnostics, server)  # fast path

    register_commands(server, asker, others)

    async def _docs_hover(ls: SparkServer, text: str, position: types.Position,
                          kind: types.MarkupKind) -> types.Hover | None:
        lines = text.splitlines()
        if position.line >= len(lines):
            return None
        column = char_column(lines[position.line], position.character, ls.encoding)
        doc = await describe_at_async(text, position.line, column, ls.installed_versions)
        if doc is None:
            return None
        return types.Hover(contents=types.MarkupContent(
            kind=kind, value=doc_hover_text(doc, kind == types.MarkupKind.Markdown)))

    async def _recommendation_extra(ls: SparkServer, uri: str, finding: Any,
                                    markdown: bool) -> str:
        """Caveats, docs, team history and confidence for a hover; "" when it takes too long."""
        try:
            text = ls.workspace.get_text_document(uri).source
            agent = asker.agent(ls.settings, list(ls.cards.values()))
            rec = await asyncio.wait_for(asker.recommend(
                agent, text, finding.span.start.line, finding.span.end.line, uri, finding),
                timeout=HOVER_WAIT)
        except TimeoutError:
            return ""
        except Exception as exc:  # noqa: BLE001 - the plain explanation is still worth showing
            log.warning("no recommendation for the hover: %s", exc)
            return ""
        return "\n\n" + hover_extra(rec, markdown)

    @server.feature(types.SHUTDOWN)
    @guarded("shutdown")
    def on_shutdown(ls: SparkServer, params: Any) -> None:
        ls.settle_all()
        others.shutdown()
        asker.shutdown()

    return server
