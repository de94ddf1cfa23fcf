import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { selectedInterpreter } from './python';
import { LaunchSettings } from './settings';

/** How to run Spark's CLI: `command ...prefix serve`, `command ...prefix status --format json`. */
export interface SparkCommand {
    command: string;
    prefix: string[];
    /** Where it was found, for the log and the status tooltip. */
    origin: string;
    /** The Python environment it was found in, when it was found through one. */
    python?: string;
}

const IS_WINDOWS = process.platform === 'win32';
const SCRIPT = IS_WINDOWS ? 'spark.exe' : 'spark';

function isFile(file: string): boolean {
    try {
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

function onPath(name: string): string | undefined {
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
        if (dir && isFile(path.join(dir, name))) {
            return path.join(dir, name);
        }
    }
    return undefined;
}

function canImportSpark(python: string): Promise<boolean> {
    return new Promise((resolve) => {
        execFile(python, ['-c', 'import spark_lsp'], { timeout: 20000 }, (error) => resolve(!error));
    });
}

/** Spark in a Python environment: the `spark` script beside the interpreter, or `python -m spark_lsp`. */
async function fromInterpreter(python: string, origin: string): Promise<SparkCommand | undefined> {
    const dir = path.dirname(python);
    for (const candidate of [path.join(dir, SCRIPT), path.join(dir, 'Scripts', SCRIPT)]) {
        if (isFile(candidate)) {
            return { command: candidate, prefix: [], origin, python };
        }
    }
    if (await canImportSpark(python)) {
        return { command: python, prefix: ['-m', 'spark_lsp'], origin, python };
    }
    return undefined;
}

export class SparkNotFound extends Error {}

/**
 * Find Spark, first match wins: `spark.path`; `spark.interpreter`; the environment selected in the
 * Python extension; `spark` on PATH. A setting that points at nothing is an error, not a reason to
 * quietly use something else.
 */
export async function findSpark(settings: LaunchSettings, resource?: vscode.Uri): Promise<SparkCommand> {
    if (settings.path) {
        if (!isFile(settings.path)) {
            throw new SparkNotFound(`spark.path is "${settings.path}", which is not a file.`);
        }
        return { command: settings.path, prefix: [], origin: 'spark.path' };
    }
    if (settings.interpreter) {
        const found = await fromInterpreter(settings.interpreter, 'spark.interpreter');
        if (!found) {
            throw new SparkNotFound(`spark.interpreter is "${settings.interpreter}", which cannot import spark_lsp. ` +
                `Run "${settings.interpreter} -m pip install spark-lsp".`);
        }
        return found;
    }
    const selected = await selectedInterpreter(resource);
    if (selected) {
        const found = await fromInterpreter(selected, `the selected Python environment (${selected})`);
        if (found) {
            return found;
        }
    }
    const script = onPath(SCRIPT);
    if (script) {
        return { command: script, prefix: [], origin: 'PATH' };
    }
    const where = selected ? `the selected Python environment (${selected}) or on PATH` : 'on PATH';
    throw new SparkNotFound(`Spark is not installed ${where}. Install it with "pip install spark-lsp", ` +
        'or set spark.path or spark.interpreter.');
}
