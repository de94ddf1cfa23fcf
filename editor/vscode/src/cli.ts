import { execFile } from 'child_process';
import { SparkCommand } from './resolve';

export interface CliResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** Run `spark ARGS...` (the same Spark as the server, same environment) and collect its output. */
export function runCli(spark: SparkCommand, args: string[], cwd?: string, timeoutMs = 60000,
    signal?: AbortSignal): Promise<CliResult> {
    return new Promise((resolve) => {
        execFile(spark.command, [...spark.prefix, ...args],
            { cwd, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024, env: process.env, signal },
            (error, stdout, stderr) => {
                const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
                resolve({ code, stdout: String(stdout), stderr: String(stderr) || (error && code === -1 ? error.message : '') });
            });
    });
}

/** click's answer to a command it does not have ("No such command 'search'"). */
export function isMissingCommand(result: CliResult, command: string): boolean {
    return result.code === 2 && result.stderr.includes(`No such command '${command}'`);
}

/** The CLI's answer when the documentation knowledge base has not been built. */
export function isMissingKnowledgeBase(result: CliResult): boolean {
    return result.code !== 0 && /no knowledge base|kb build/.test(result.stderr);
}

/** The last line of stderr, or the exit code: what to tell the user when a command failed. */
export function failure(result: CliResult): string {
    return result.stderr.trim().split('\n').pop()?.replace(/^error:\s*/, '') || `exit code ${result.code}`;
}

export function parseJson<T>(result: CliResult): T {
    return JSON.parse(result.stdout) as T;
}
