import * as vscode from 'vscode';

export const SECTION = 'spark';

/** Settings that change how the server process is started: changing one restarts the server. */
export const RESTART_KEYS = ['enable', 'path', 'interpreter', 'memory.path', 'llm.endpoint', 'llm.model',
    'llm.apiKeyEnv'];

/** Settings the server reads live (workspace/configuration), by their key in VS Code. */
const LIVE_KEYS = ['enabledCodes', 'disabledCodes', 'severity', 'traceRecording', 'debounceMs'];

export interface LaunchSettings {
    enable: boolean;
    path: string;
    interpreter: string;
}

export function launchSettings(scope?: vscode.ConfigurationScope): LaunchSettings {
    const config = vscode.workspace.getConfiguration(SECTION, scope);
    return {
        enable: config.get<boolean>('enable', true),
        path: config.get<string>('path', '').trim(),
        interpreter: config.get<string>('interpreter', '').trim(),
    };
}

/** The value the user set (folder > workspace > user), or undefined when only the default applies. */
function explicit(config: vscode.WorkspaceConfiguration, key: string): unknown {
    const info = config.inspect(key);
    const value = info?.workspaceFolderValue ?? info?.workspaceValue ?? info?.globalValue;
    return typeof value === 'string' && value.trim() === '' ? undefined : value;
}

/**
 * The `spark` section as the server should see it: only what the user set in VS Code, so that
 * unset settings leave `[tool.spark]` in pyproject.toml, `$SPARK_HOME/config.toml` and the
 * environment in charge (the server gives the editor's values the last word).
 * Keys are the server's camelCase aliases; `memory` and `llm` mirror `[tool.spark.memory]` and
 * `[tool.spark.llm]`. The LLM API key is never here: only the name of the variable that holds it.
 */
export function serverSettings(scope?: vscode.ConfigurationScope): Record<string, unknown> {
    const config = vscode.workspace.getConfiguration(SECTION, scope);
    const out: Record<string, unknown> = {};
    for (const key of LIVE_KEYS) {
        const value = explicit(config, key);
        if (value !== undefined) {
            out[key] = value;
        }
    }
    const memoryPath = explicit(config, 'memory.path');
    if (memoryPath !== undefined) {
        out.memory = { path: memoryPath };
    }
    const llm: Record<string, unknown> = {};
    for (const key of ['endpoint', 'model', 'apiKeyEnv']) {
        const value = explicit(config, `llm.${key}`);
        if (value !== undefined) {
            llm[key] = value;
        }
    }
    if (Object.keys(llm).length > 0) {
        out.llm = llm;
    }
    return out;
}

export function needsRestart(event: vscode.ConfigurationChangeEvent): boolean {
    return RESTART_KEYS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`));
}
