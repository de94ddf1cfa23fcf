import * as vscode from 'vscode';

/** The one "Spark" output channel: the extension's log and the server's stderr. */
let channel: vscode.LogOutputChannel | undefined;

export function outputChannel(): vscode.LogOutputChannel {
    if (!channel) {
        channel = vscode.window.createOutputChannel('Spark', { log: true });
    }
    return channel;
}

export function logInfo(message: string): void {
    outputChannel().info(message);
}

export function logError(message: string, error?: unknown): void {
    const detail = error instanceof Error ? error.message : error === undefined ? '' : String(error);
    outputChannel().error(detail ? `${message}: ${detail}` : message);
}
