import * as vscode from 'vscode';

const SCHEME = 'spark-doc';

/** Read-only markdown documents (explanations, search results, stats) shown in a preview. */
export class Previews implements vscode.TextDocumentContentProvider, vscode.Disposable {
    private readonly contents = new Map<string, string>();
    private readonly changed = new vscode.EventEmitter<vscode.Uri>();
    readonly onDidChange = this.changed.event;
    private readonly registration = vscode.workspace.registerTextDocumentContentProvider(SCHEME, this);

    provideTextDocumentContent(uri: vscode.Uri): string {
        return this.contents.get(uri.toString()) ?? '';
    }

    /** Show `markdown` as `name` (e.g. "SPK001.md"), rendered when the markdown preview is there. */
    async show(name: string, markdown: string): Promise<void> {
        const uri = vscode.Uri.from({ scheme: SCHEME, path: `/${name}` });
        this.contents.set(uri.toString(), markdown);
        this.changed.fire(uri);
        const doc = await vscode.workspace.openTextDocument(uri);
        try {
            await vscode.commands.executeCommand('markdown.showPreviewToSide', doc.uri);
        } catch {
            await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: true });
        }
    }

    dispose(): void {
        this.registration.dispose();
        this.changed.dispose();
    }
}
