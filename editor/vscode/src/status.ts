import * as vscode from 'vscode';

export type ServerState = 'starting' | 'ready' | 'kbBuilding' | 'error' | 'disabled';

const LOOK: Record<ServerState, { text: string; tooltip: string }> = {
    starting: { text: '$(loading~spin) Spark', tooltip: 'Spark: starting the language server' },
    ready: { text: '$(check) Spark', tooltip: 'Spark: ready' },
    kbBuilding: { text: '$(sync~spin) Spark: KB building', tooltip: 'Spark: building its knowledge base; findings work meanwhile' },
    error: { text: '$(error) Spark', tooltip: 'Spark: the language server is not running' },
    disabled: { text: '$(circle-slash) Spark', tooltip: 'Spark: disabled (spark.enable)' },
};

/** The status-bar item: the server's state; a click opens the Spark output. */
export class StatusItem implements vscode.Disposable {
    private readonly item: vscode.StatusBarItem;
    state: ServerState = 'starting';

    constructor() {
        this.item = vscode.window.createStatusBarItem('spark.status', vscode.StatusBarAlignment.Right, 100);
        this.item.name = 'Spark';
        this.item.command = 'spark.showOutput';
        this.set('starting');
        this.item.show();
    }

    set(state: ServerState, detail?: string): void {
        this.state = state;
        const look = LOOK[state];
        this.item.text = look.text;
        this.item.tooltip = detail ? `${look.tooltip}\n${detail}\n(click for the Spark output)` : `${look.tooltip}\n(click for the Spark output)`;
        this.item.backgroundColor = state === 'error'
            ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    }

    dispose(): void {
        this.item.dispose();
    }
}
