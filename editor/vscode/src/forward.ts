import * as vscode from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import { logError } from './log';
import { SECTION } from './settings';

/**
 * Forwards the diagnostics other extensions (Pylance, mypy, ruff, …) publish for open Python
 * files to Spark (`spark/otherDiagnostics`, see docs/editors.md), so that Spark can answer on
 * their ranges with a hover and "Spark: how to fix this". Spark's own diagnostics are never sent.
 *
 * A change is sent at once when nothing was sent in the last DELAY_MS; otherwise changes are
 * gathered until DELAY_MS after the last send. Each changed document's current set is then sent
 * once, and only when it differs from what was sent last: a tool that republishes on every
 * keystroke costs at most a few notifications a second.
 */
export const OTHER_DIAGNOSTICS = 'spark/otherDiagnostics';
const DELAY_MS = 300;
const MAX_PER_DOCUMENT = 200;
const MAX_MESSAGE = 4000;
const SPARK_SOURCE = 'spark';

interface ForwardedDiagnostic {
    range: { start: { line: number; character: number }; end: { line: number; character: number } };
    message: string;
    source: string;
    code?: string | number;
    severity: number;
}

export const FORWARD_SETTING = `${SECTION}.forwardDiagnostics`;

export function forwardingEnabled(): boolean {
    return vscode.workspace.getConfiguration(SECTION).get<boolean>('forwardDiagnostics', true);
}

function toForwarded(d: vscode.Diagnostic): ForwardedDiagnostic {
    const code = typeof d.code === 'object' ? d.code.value : d.code;
    return {
        range: {
            start: { line: d.range.start.line, character: d.range.start.character },
            end: { line: d.range.end.line, character: d.range.end.character },
        },
        message: d.message.slice(0, MAX_MESSAGE),
        source: d.source ?? '',
        ...(code !== undefined ? { code } : {}),
        severity: d.severity + 1, // vscode counts from Error = 0, LSP from Error = 1
    };
}

function isForwardable(document: vscode.TextDocument): boolean {
    return document.languageId === 'python' && ['file', 'untitled'].includes(document.uri.scheme);
}

export class DiagnosticForwarder implements vscode.Disposable {
    private readonly pending = new Set<string>();
    private readonly sent = new Map<string, string>(); // document uri -> the JSON sent last
    private timer: NodeJS.Timeout | undefined;
    private lastFlush = 0;
    private readonly subscriptions: vscode.Disposable[];

    constructor(private readonly client: () => LanguageClient | undefined) {
        this.subscriptions = [
            vscode.languages.onDidChangeDiagnostics((event) => this.changed(event.uris)),
            vscode.workspace.onDidCloseTextDocument((document) => this.sent.delete(document.uri.toString())),
        ];
    }

    /** Send every open Python document's set again (a new server knows nothing yet). */
    resendAll(): void {
        this.sent.clear();
        this.changed(vscode.workspace.textDocuments.filter(isForwardable).map((d) => d.uri));
    }

    /** `spark.forwardDiagnostics` changed: clear what the server holds, or send everything. */
    async settingChanged(): Promise<void> {
        if (forwardingEnabled()) {
            this.resendAll();
            return;
        }
        const client = this.client();
        const sent = [...this.sent.keys()];
        this.sent.clear();
        if (client?.isRunning()) {
            for (const uri of sent) {
                await this.send(client, { uri: client.code2ProtocolConverter.asUri(vscode.Uri.parse(uri)), diagnostics: [] });
            }
        }
    }

    private changed(uris: readonly vscode.Uri[]): void {
        if (!forwardingEnabled()) {
            return;
        }
        for (const uri of uris) {
            this.pending.add(uri.toString());
        }
        this.timer ??= setTimeout(() => void this.flush(),
            Math.max(0, DELAY_MS - (Date.now() - this.lastFlush)));
    }

    private async flush(): Promise<void> {
        this.timer = undefined;
        this.lastFlush = Date.now();
        const keys = [...this.pending];
        this.pending.clear();
        const client = this.client();
        if (!client?.isRunning()) {
            return;
        }
        for (const key of keys) {
            const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === key);
            if (!document || !isForwardable(document)) {
                continue;
            }
            const diagnostics = vscode.languages.getDiagnostics(document.uri)
                .filter((d) => d.source !== SPARK_SOURCE)
                .slice(0, MAX_PER_DOCUMENT)
                .map(toForwarded);
            const json = JSON.stringify(diagnostics);
            if (this.sent.get(key) === json || (!this.sent.has(key) && diagnostics.length === 0)) {
                continue; // unchanged (e.g. only Spark's own diagnostics changed), or nothing to say
            }
            this.sent.set(key, json);
            await this.send(client, {
                uri: client.code2ProtocolConverter.asUri(document.uri), version: document.version, diagnostics,
            });
        }
    }

    private async send(client: LanguageClient, params: object): Promise<void> {
        try {
            await client.sendNotification(OTHER_DIAGNOSTICS, params);
        } catch (error) {
            logError('forwarding diagnostics to Spark', error);
        }
    }

    dispose(): void {
        if (this.timer) {
            clearTimeout(this.timer);
        }
        vscode.Disposable.from(...this.subscriptions).dispose();
    }
}
