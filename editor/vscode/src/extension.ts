import * as vscode from 'vscode';
import { buildKnowledgeBase, explainFinding, searchDocs, showStats } from './commands';
import { DiagnosticForwarder, FORWARD_SETTING } from './forward';
import { logError, outputChannel } from './log';
import { Previews } from './preview';
import { onInterpreterChange } from './python';
import { SparkSession } from './session';
import { needsRestart, SECTION } from './settings';
import { StatusItem } from './status';

let session: SparkSession | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
    const status = new StatusItem();
    const previews = new Previews();
    session = new SparkSession(status);
    const current = session;
    const forwarder = new DiagnosticForwarder(() => current.client);
    const guard = (name: string, run: () => Promise<void>) => async () => {
        try {
            await run();
        } catch (error) {
            logError(name, error);
            void vscode.window.showErrorMessage(`Spark: ${name} failed: ${error instanceof Error ? error.message : error}`);
        }
    };
    context.subscriptions.push(
        outputChannel(), status, previews, current, forwarder,
        current.onDidStart(() => forwarder.resendAll()),
        vscode.commands.registerCommand('spark.restart', guard('restart', () => current.restart())),
        vscode.commands.registerCommand('spark.showOutput', () => outputChannel().show()),
        vscode.commands.registerCommand('spark.explain', guard('explain', () => explainFinding(current, previews))),
        vscode.commands.registerCommand('spark.searchDocs', guard('search docs', () => searchDocs(current, previews))),
        vscode.commands.registerCommand('spark.showStats', guard('stats', () => showStats(current, previews))),
        vscode.commands.registerCommand('spark.buildKnowledgeBase', guard('knowledge base build', () => buildKnowledgeBase(current))),
        vscode.workspace.onDidChangeConfiguration(async (event) => {
            if (event.affectsConfiguration(FORWARD_SETTING)) {
                await forwarder.settingChanged();
            }
            if (needsRestart(event)) {
                await current.restart();
            } else if (event.affectsConfiguration(SECTION)) {
                await current.configurationChanged();
            }
        }),
    );
    const interpreterWatch = await onInterpreterChange(() => void current.restart());
    if (interpreterWatch) {
        context.subscriptions.push(interpreterWatch);
    }
    await current.restart();
}

export async function deactivate(): Promise<void> {
    await session?.stop();
}
