// A stand-in for Pylance in Spark's VS Code end-to-end test (tests/editors/test_vscode.py):
// publishes, for open Python files, the diagnostics Pylance would show on `.append(` (pandas 2
// removed DataFrame.append) and on `np.` without a numpy import, with Pylance's wording, source
// and codes, through an ordinary diagnostic collection.
const vscode = require('vscode');

function diagnosticsOf(document) {
    const found = [];
    const importsNumpy = /^\s*import numpy|^\s*from numpy/m.test(document.getText());
    for (let line = 0; line < document.lineCount; line++) {
        const text = document.lineAt(line).text;
        const append = text.indexOf('.append(');
        if (append >= 0) {
            const d = new vscode.Diagnostic(new vscode.Range(line, append + 1, line, append + 7),
                'Cannot access attribute "append" for class "DataFrame"\n  Attribute "append" is unknown',
                vscode.DiagnosticSeverity.Error);
            d.source = 'Pylance';
            d.code = { value: 'reportAttributeAccessIssue', target: vscode.Uri.parse('https://github.com/microsoft/pyright/blob/main/docs/configuration.md') };
            found.push(d);
        }
        const np = text.search(/\bnp\./);
        if (np >= 0 && !importsNumpy) {
            const d = new vscode.Diagnostic(new vscode.Range(line, np, line, np + 2),
                '"np" is not defined', vscode.DiagnosticSeverity.Error);
            d.source = 'Pylance';
            d.code = 'reportUndefinedVariable';
            found.push(d);
        }
    }
    return found;
}

function activate(context) {
    const collection = vscode.languages.createDiagnosticCollection('fake-pylance');
    const update = (document) => {
        if (document.languageId === 'python') {
            collection.set(document.uri, diagnosticsOf(document));
        }
    };
    context.subscriptions.push(
        collection,
        vscode.workspace.onDidOpenTextDocument(update),
        vscode.workspace.onDidChangeTextDocument((event) => update(event.document)),
        vscode.workspace.onDidCloseTextDocument((document) => collection.delete(document.uri)),
    );
    vscode.workspace.textDocuments.forEach(update);
}

module.exports = { activate };
