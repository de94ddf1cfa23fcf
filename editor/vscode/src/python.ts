import * as vscode from 'vscode';
import { logError } from './log';

/** The parts of the Python extension's API (ms-python.python) that Spark uses. */
interface EnvironmentPath {
    readonly id: string;
    readonly path: string;
}
interface ResolvedEnvironment {
    readonly executable: { readonly uri: vscode.Uri | undefined };
}
interface EnvironmentsApi {
    getActiveEnvironmentPath(resource?: vscode.Uri | vscode.WorkspaceFolder): EnvironmentPath;
    resolveEnvironment(env: EnvironmentPath | string): Promise<ResolvedEnvironment | undefined>;
    readonly onDidChangeActiveEnvironmentPath: vscode.Event<unknown>;
}
interface PythonExtensionApi {
    environments?: EnvironmentsApi;
    environment?: EnvironmentsApi; // older releases
}

const PYTHON_EXTENSION = 'ms-python.python';

async function environmentsApi(): Promise<EnvironmentsApi | undefined> {
    const extension = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION);
    if (!extension) {
        return undefined;
    }
    try {
        const api = extension.isActive ? extension.exports : await extension.activate();
        return api?.environments ?? api?.environment;
    } catch (error) {
        logError('cannot use the Python extension', error);
        return undefined;
    }
}

/** The interpreter selected in the Python extension for `resource`, if that extension is installed. */
export async function selectedInterpreter(resource?: vscode.Uri): Promise<string | undefined> {
    const api = await environmentsApi();
    if (!api) {
        return undefined;
    }
    try {
        const env = await api.resolveEnvironment(api.getActiveEnvironmentPath(resource));
        return env?.executable.uri?.fsPath;
    } catch (error) {
        logError('cannot resolve the selected Python environment', error);
        return undefined;
    }
}

/** Fires when the user selects another interpreter (never, without the Python extension). */
export async function onInterpreterChange(listener: () => void): Promise<vscode.Disposable | undefined> {
    const api = await environmentsApi();
    return api?.onDidChangeActiveEnvironmentPath(() => listener());
}
