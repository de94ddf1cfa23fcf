import * as vscode from 'vscode';
import {
    LanguageClient,
    LanguageClientOptions,
    ResponseError,
    RevealOutputChannelOn,
    ServerOptions,
    State,
} from 'vscode-languageclient/node';
import { logError, logInfo, outputChannel } from './log';
import { findSpark, SparkCommand, SparkNotFound } from './resolve';
import { launchSettings, SECTION, serverSettings } from './settings';
import { ServerState, StatusItem } from './status';

/** Optional notification a server can send to show its state, e.g. while the KB builds. */
const STATUS_NOTIFICATION = 'spark/status';
interface StatusParams {
    state: 'kbBuilding' | 'ready' | 'error';
    message?: string;
}

function workspaceFolder(): vscode.WorkspaceFolder | undefined {
    const active = vscode.window.activeTextEditor?.document.uri;
    return (active && vscode.workspace.getWorkspaceFolder(active)) ?? vscode.workspace.workspaceFolders?.[0];
}

/** One running `spark serve` and its language client; start, stop and restart are serialized. */
export class SparkSession implements vscode.Disposable {
    client: LanguageClient | undefined;
    spark: SparkCommand | undefined;
    private queue: Promise<void> = Promise.resolve();
    private stopping = false;
    private readonly started = new vscode.EventEmitter<LanguageClient>();
    /** A server has started and answers (again, after a restart). */
    readonly onDidStart = this.started.event;

    constructor(readonly status: StatusItem) {}

    folder(): vscode.WorkspaceFolder | undefined {
        return workspaceFolder();
    }

    restart(): Promise<void> {
        this.queue = this.queue.then(() => this.stop()).then(() => this.start());
        return this.queue;
    }

    /** Tell a running server that settings it reads live have changed. */
    async configurationChanged(): Promise<void> {
        if (this.client?.isRunning()) {
            await this.client.sendNotification('workspace/didChangeConfiguration',
                { settings: { [SECTION]: serverSettings(this.folder()?.uri) } });
        }
    }

    private async start(): Promise<void> {
        const folder = this.folder();
        const settings = launchSettings(folder?.uri);
        if (!settings.enable) {
            this.status.set('disabled');
            logInfo('spark.enable is false: the server is not started');
            return;
        }
        this.status.set('starting');
        try {
            this.spark = await findSpark(settings, folder?.uri);
        } catch (error) {
            this.spark = undefined;
            const message = error instanceof SparkNotFound ? error.message : `Cannot find Spark: ${error}`;
            this.fail(message);
            return;
        }
        const args = [...this.spark.prefix, 'serve'];
        logInfo(`starting ${this.spark.command} ${args.join(' ')} (found via ${this.spark.origin})`);
        const serverOptions: ServerOptions = {
            command: this.spark.command,
            args,
            options: { cwd: folder?.uri.fsPath, env: process.env },
        };
        const clientOptions: LanguageClientOptions = {
            documentSelector: [
                { scheme: 'file', language: 'python' },
                { scheme: 'untitled', language: 'python' },
            ],
            outputChannel: outputChannel(),
            traceOutputChannel: outputChannel(),
            revealOutputChannelOn: RevealOutputChannelOn.Never,
            initializationOptions: serverSettings(folder?.uri),
            middleware: {
                workspace: {
                    // Only the settings the user set: defaults must not hide [tool.spark].
                    configuration: async (params, token, next) => {
                        const answer = await next(params, token);
                        if (answer instanceof ResponseError) {
                            return answer;
                        }
                        return params.items.map((item, i) => item.section === SECTION
                            ? serverSettings(item.scopeUri ? vscode.Uri.parse(item.scopeUri) : folder?.uri)
                            : answer[i]);
                    },
                },
            },
        };
        const client = new LanguageClient('spark', 'Spark', serverOptions, clientOptions);
        client.onDidChangeState((event) => {
            if (event.newState === State.Running) {
                this.status.set('ready', `${this.spark?.command} (via ${this.spark?.origin})`);
            } else if (event.newState === State.Starting) {
                this.status.set('starting');
            } else if (event.newState === State.Stopped && !this.stopping) {
                this.status.set('error', 'The server stopped; see the Spark output.');
            }
        });
        this.client = client;
        try {
            await client.start();
        } catch (error) {
            this.fail(`The Spark server did not start: ${error instanceof Error ? error.message : error}`);
            return;
        }
        client.onNotification(STATUS_NOTIFICATION, (params: StatusParams) => {
            const state: ServerState = params.state === 'kbBuilding' ? 'kbBuilding'
                : params.state === 'error' ? 'error' : 'ready';
            this.status.set(state, params.message);
        });
        this.started.fire(client);
    }

    async stop(): Promise<void> {
        const client = this.client;
        this.client = undefined;
        if (!client) {
            return;
        }
        this.stopping = true;
        try {
            if (client.needsStop()) {
                await client.stop(5000);
            }
            await client.dispose();
        } catch (error) {
            logError('stopping the server', error);
        } finally {
            this.stopping = false;
        }
    }

    private fail(message: string): void {
        logError(message);
        this.status.set('error', message);
        void vscode.window.showErrorMessage(`Spark: ${message}`, 'Open Settings', 'Show Output').then((choice) => {
            if (choice === 'Open Settings') {
                void vscode.commands.executeCommand('workbench.action.openSettings', '@ext:spark-lsp.spark-lsp');
            } else if (choice === 'Show Output') {
                outputChannel().show();
            }
        });
    }

    dispose(): void {
        this.started.dispose();
        void this.stop();
    }
}
