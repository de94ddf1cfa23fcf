import * as vscode from 'vscode';
import { Hover, HoverRequest, MarkupContent } from 'vscode-languageclient/node';
import { failure, isMissingCommand, isMissingKnowledgeBase, parseJson, runCli } from './cli';
import { logInfo } from './log';
import { Previews } from './preview';
import { SparkSession } from './session';

const SOURCE = 'spark';
/** A server command for docs search, used instead of the CLI when the server offers it. */
const SERVER_SEARCH = 'spark.search';

function codeOf(diagnostic: vscode.Diagnostic): string {
    const code = diagnostic.code;
    return typeof code === 'object' ? String(code.value) : String(code ?? '');
}

function sparkDiagnostics(uri: vscode.Uri): vscode.Diagnostic[] {
    return vscode.languages.getDiagnostics(uri).filter((d) => d.source === SOURCE);
}

/** The finding under the cursor, else the one on its line, else one the user picks. */
async function findingAt(editor: vscode.TextEditor): Promise<vscode.Diagnostic | undefined> {
    const all = sparkDiagnostics(editor.document.uri);
    const cursor = editor.selection.active;
    const here = all.find((d) => d.range.contains(cursor)) ?? all.find((d) => d.range.start.line === cursor.line);
    if (here || all.length <= 1) {
        return here ?? all[0];
    }
    const picked = await vscode.window.showQuickPick(all.map((d) => ({
        label: `${codeOf(d)}  line ${d.range.start.line + 1}`, detail: d.message, diagnostic: d,
    })), { title: 'Spark: which finding?' });
    return picked?.diagnostic;
}

function hoverMarkdown(hover: Hover | null): string | undefined {
    if (!hover) {
        return undefined;
    }
    const parts = Array.isArray(hover.contents) ? hover.contents : [hover.contents];
    return parts.map((p) => (typeof p === 'string' ? p : (p as MarkupContent).value)).join('\n\n');
}

function runningClient(session: SparkSession) {
    if (!session.client?.isRunning()) {
        void vscode.window.showWarningMessage('Spark: the server is not running. See the Spark output, or run "Spark: Restart Server".');
        return undefined;
    }
    return session.client;
}

/** "Explain This Finding": the server's explanation of the finding at the cursor, in a preview. */
export async function explainFinding(session: SparkSession, previews: Previews): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document.languageId !== 'python') {
        void vscode.window.showInformationMessage('Spark: open a Python file and put the cursor on a finding.');
        return;
    }
    const diagnostic = await findingAt(editor);
    if (!diagnostic) {
        void vscode.window.showInformationMessage('Spark: no finding in this file.');
        return;
    }
    const client = runningClient(session);
    if (!client) {
        return;
    }
    const hover = await client.sendRequest(HoverRequest.type, {
        textDocument: client.code2ProtocolConverter.asTextDocumentIdentifier(editor.document),
        position: client.code2ProtocolConverter.asPosition(diagnostic.range.start),
    });
    const text = hoverMarkdown(hover) ?? `**${codeOf(diagnostic)}** ${diagnostic.message}`;
    const href = typeof diagnostic.code === 'object' ? diagnostic.code.target.toString() : undefined;
    await previews.show(`${codeOf(diagnostic)}.md`, href && !text.includes(href) ? `${text}\n\n[Rule](${href})` : text);
}

interface DocHit {
    object?: string;
    library?: string;
    version?: string;
    kind?: string;
    section?: string;
    score?: number;
    text?: string;
    url?: string;
}

function hitsOf(raw: unknown): DocHit[] {
    if (Array.isArray(raw)) {
        return raw as DocHit[];
    }
    const results = (raw as { results?: unknown } | null)?.results;
    return Array.isArray(results) ? (results as DocHit[]) : [];
}

function hitMarkdown(hit: DocHit): string {
    const where = [hit.library, hit.version].filter(Boolean).join(' ');
    const lines = [`# \`${hit.object ?? '?'}\``, `${where}${hit.kind ? ` · ${hit.kind}` : ''}${hit.section ? ` · ${hit.section}` : ''}`];
    if (hit.text) {
        // Docstrings (numpydoc underlines, doctest prompts) read as written, not as markdown.
        const fence = hit.text.includes('```') ? '~~~~' : '```';
        lines.push('', `${fence}text`, hit.text, fence);
    }
    if (hit.url) {
        lines.push('', `[Documentation](${hit.url})`);
    }
    return lines.join('\n');
}

/** "Search Docs": a server command when the server has one, else `spark search QUERY --format json`. */
export async function searchDocs(session: SparkSession, previews: Previews): Promise<void> {
    const spark = session.spark;
    if (!spark) {
        void vscode.window.showWarningMessage('Spark: Spark was not found; see the Spark output.');
        return;
    }
    const editor = vscode.window.activeTextEditor;
    const wordRange = editor?.document.getWordRangeAtPosition(editor.selection.active);
    const word = editor && wordRange ? editor.document.getText(wordRange) : '';
    const query = await vscode.window.showInputBox({
        title: 'Spark: Search Docs',
        prompt: 'Documentation of the library versions installed in your environment',
        value: editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection) : word,
    });
    if (!query?.trim()) {
        return;
    }
    let hits: DocHit[];
    const serverCommands = session.client?.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
    if (session.client?.isRunning() && serverCommands.includes(SERVER_SEARCH)) {
        hits = hitsOf(await vscode.commands.executeCommand(SERVER_SEARCH, { query }));
    } else {
        const result = await vscode.window.withProgress(
            { location: vscode.ProgressLocation.Notification, title: `Spark: searching the docs for "${query}"…` },
            () => runCli(spark, ['search', query, '--format', 'json', '-k', '20'], session.folder()?.uri.fsPath));
        if (isMissingCommand(result, 'search')) {
            void vscode.window.showWarningMessage(
                'Spark: this Spark has no docs search yet (`spark search` arrives with the documentation ' +
                'knowledge base). Upgrade Spark, then run "spark kb build".');
            return;
        }
        if (isMissingKnowledgeBase(result)) {
            const choice = await vscode.window.showWarningMessage(
                'Spark: the documentation knowledge base is not built yet. Building it takes a few minutes; ' +
                'findings, hovers and fixes work meanwhile.', 'Build Now');
            if (choice === 'Build Now') {
                await buildKnowledgeBase(session);
            }
            return;
        }
        if (result.code !== 0) {
            void vscode.window.showErrorMessage(`Spark: spark search failed: ${failure(result)}`);
            return;
        }
        hits = hitsOf(parseJson<unknown>(result));
    }
    if (hits.length === 0) {
        void vscode.window.showInformationMessage(`Spark: nothing found for "${query}".`);
        return;
    }
    const picked = await vscode.window.showQuickPick(hits.map((hit) => ({
        label: hit.object ?? '?',
        description: [hit.library, hit.version, hit.section].filter(Boolean).join(' · '),
        detail: (hit.text ?? '').replace(/\s+/g, ' ').slice(0, 200),
        hit,
    })), { title: `Spark: docs for "${query}"`, matchOnDescription: true, matchOnDetail: true });
    if (picked) {
        await previews.show(`${picked.hit.object ?? 'result'}.md`, hitMarkdown(picked.hit));
    }
}

interface Status {
    path?: string;
    exists?: boolean;
    cards?: Record<string, unknown>;
    traces?: Record<string, number>;
    journal_files?: number;
    journal_pending_lines?: number;
    libraries?: Record<string, string>;
    notes?: string[];
}

/** `{"seed": {"curated": 42}, "learned": {"candidate": 3}}` -> "seed: 42 curated; learned: 3 candidate". */
function cardSummary(cards: Record<string, unknown>): string {
    const parts = Object.entries(cards).map(([origin, counts]) => {
        if (typeof counts === 'number') {
            return `${origin}: ${counts}`;
        }
        const byStatus = Object.entries((counts ?? {}) as Record<string, unknown>).map(([status, n]) => `${n} ${status}`);
        return `${origin}: ${byStatus.join(', ')}`;
    });
    return parts.length ? parts.join('; ') : 'none stored yet';
}

function statsMarkdown(status: Status): string {
    const traces = status.traces ?? {};
    const total = Object.values(traces).reduce((a, b) => a + (typeof b === 'number' ? b : 0), 0);
    const lines = ['# Spark: what your team\'s knowledge base holds', '', `Knowledge base: \`${status.path ?? '?'}\`` +
        (status.exists === false ? ' (not created yet)' : ''), ''];
    lines.push(`## Suggestions and what happened to them (${total})`, '');
    if (total === 0) {
        lines.push('No recorded outcomes yet.');
    } else {
        lines.push('| outcome | count |', '| --- | ---: |');
        for (const [outcome, count] of Object.entries(traces)) {
            lines.push(`| ${outcome} | ${count} |`);
        }
        const accepted = traces.accepted ?? 0;
        const decided = accepted + (traces.rejected ?? 0) + (traces.corrected ?? 0);
        if (decided > 0) {
            lines.push('', `Acceptance rate: ${Math.round((100 * accepted) / decided)}% of ${decided} decided suggestions.`);
        }
    }
    if (status.journal_pending_lines) {
        lines.push('', `${status.journal_pending_lines} trace(s) still in ${status.journal_files ?? 0} journal file(s), merged on the next \`spark traces merge\`.`);
    }
    lines.push('', `## Practice cards: ${cardSummary(status.cards ?? {})}`);
    const libraries = status.libraries ?? {};
    if (Object.keys(libraries).length) {
        lines.push('', '## Library versions', '', '| library | version |', '| --- | --- |',
            ...Object.entries(libraries).map(([lib, version]) => `| ${lib} | ${version} |`));
    }
    for (const note of status.notes ?? []) {
        lines.push('', `> ${note}`);
    }
    return lines.join('\n');
}

/** "Show My Team's Stats": `spark traces merge`, then `spark status --format json`, rendered. */
export async function showStats(session: SparkSession, previews: Previews): Promise<void> {
    const spark = session.spark;
    if (!spark) {
        void vscode.window.showWarningMessage('Spark: Spark was not found; see the Spark output.');
        return;
    }
    const cwd = session.folder()?.uri.fsPath;
    // Count what the editors recorded so far: merge the journals first (the CLI's own locked
    // writer; when the file is busy the stats show the pending lines instead).
    const merged = await runCli(spark, ['traces', 'merge', '--wait', '2'], cwd);
    if (merged.code !== 0) {
        logInfo(`spark traces merge: ${merged.stderr.trim() || `exit code ${merged.code}`}`);
    }
    const result = await runCli(spark, ['status', '--format', 'json'], cwd);
    if (result.code !== 0) {
        void vscode.window.showErrorMessage(`Spark: spark status failed: ${failure(result)}`);
        return;
    }
    await previews.show('Spark stats.md', statsMarkdown(parseJson<Status>(result)));
}

/**
 * "Build Docs Knowledge Base": `spark kb build` for the Python environment Spark was found in.
 * The server keeps serving the old knowledge base until the new one is swapped in.
 */
export async function buildKnowledgeBase(session: SparkSession): Promise<void> {
    const spark = session.spark;
    if (!spark) {
        void vscode.window.showWarningMessage('Spark: Spark was not found; see the Spark output.');
        return;
    }
    const args = ['kb', 'build', '--no-progress', ...(spark.python ? ['--python', spark.python] : [])];
    logInfo(`running spark ${args.join(' ')}`);
    const status = session.status;
    status.set('kbBuilding', 'spark kb build is running');
    try {
        const result = await vscode.window.withProgress({
            location: vscode.ProgressLocation.Notification,
            title: 'Spark: building the documentation knowledge base (a few minutes)…',
            cancellable: true,
        }, (_progress, token) => {
            const abort = new AbortController();
            token.onCancellationRequested(() => abort.abort());
            return runCli(spark, args, session.folder()?.uri.fsPath, 60 * 60 * 1000, abort.signal);
        });
        for (const line of (result.stdout + result.stderr).split('\n').filter((l) => l.trim())) {
            logInfo(`kb build: ${line}`);
        }
        if (result.code === 0) {
            const summary = result.stdout.trim().split('\n').filter((l) => / snippets? /.test(l)).pop();
            void vscode.window.showInformationMessage(`Spark: knowledge base built. ${summary ?? ''}`.trim());
        } else {
            void vscode.window.showErrorMessage(`Spark: spark kb build failed: ${failure(result)}`);
        }
    } finally {
        if (status.state === 'kbBuilding') {
            status.set(session.client?.isRunning() ? 'ready' : 'error');
        }
    }
}
