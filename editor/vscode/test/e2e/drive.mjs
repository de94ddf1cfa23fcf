// Drives a real VS Code (code-server, in headless Debian Chromium) through Spark's extension:
// open a file with a known mistake, see the diagnostic, hover, explain, apply the quick fix, save.
// Run by tests/editors/test_vscode.py, which starts code-server, checks the file on disk and the
// trace journal afterwards. Environment:
//   SPARK_VSCODE_URL   code-server URL with ?folder=...      SPARK_TEST_FILE  file name to open
//   SPARK_TEST_OUT     folder for screenshots and report.json SPARK_TEST_CODE  expected code (SPK001)
//   SPARK_TEST_FIXED   text the fixed line must contain       CHROMIUM         browser (/usr/bin/chromium)
//   SPARK_TEST_WORKSPACE   the workspace folder (the settings step writes .vscode/settings.json)
//   SPARK_TEST_SEARCH, SPARK_TEST_SEARCH_EXPECT  a docs query, and text its first hit must show
//   SPARK_TEST_OTHER_FILE  a file on which the fake linter (test/fake-linter) publishes Pylance-worded
//                          errors: Spark's hover and "Spark: how to fix this" on them (optional)
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const url = process.env.SPARK_VSCODE_URL;
const fileName = process.env.SPARK_TEST_FILE;
const out = process.env.SPARK_TEST_OUT;
const code = process.env.SPARK_TEST_CODE ?? 'SPK001';
const fixed = process.env.SPARK_TEST_FIXED ?? 'to_numpy()';
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const workspace = process.env.SPARK_TEST_WORKSPACE;
const searchQuery = process.env.SPARK_TEST_SEARCH ?? 'sort_values stable';
const searchExpect = process.env.SPARK_TEST_SEARCH_EXPECT ?? 'sort_values';
const otherFile = process.env.SPARK_TEST_OTHER_FILE;
mkdirSync(out, { recursive: true });

const report = { steps: [], screenshots: [] };
const save = () => writeFileSync(join(out, 'report.json'), JSON.stringify(report, null, 2));

const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
page.on('console', (msg) => {
    if (msg.type() === 'error') {
        (report.console ??= []).push(msg.text().slice(0, 300));
    }
});

async function shot(name) {
    const path = join(out, `${name}.png`);
    await page.screenshot({ path });
    report.screenshots.push(path);
}

async function step(name, fn) {
    const started = Date.now();
    try {
        await fn();
        report.steps.push({ name, ok: true, ms: Date.now() - started });
    } catch (error) {
        report.steps.push({ name, ok: false, ms: Date.now() - started, error: String(error?.stack ?? error) });
        report.failed = name;
        await shot(`failed-${name.replace(/\W+/g, '-')}`).catch(() => {});
        save();
        await browser.close();
        process.exit(1);
    }
}

const editor = page.locator('.editor-instance .monaco-editor').first();
const squiggle = editor.locator('[class*="squiggly-"]').filter({ visible: true }).first();

async function squiggleCenter() {
    // Decorations are re-rendered when the layout changes: retry until one holds still.
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
        const box = await squiggle.boundingBox({ timeout: 1000 }).catch(() => null);
        if (box && box.width > 0) {
            return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
        }
        await page.waitForTimeout(200);
    }
    throw new Error('no visible squiggle');
}

async function runCommand(title) {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: 10000 });
    await input.fill(`>${title}`);
    const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
    await row.waitFor({ state: 'visible', timeout: 10000 });
    await page.keyboard.press('Enter');
}

async function frameText(needle, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        // Webviews (markdown previews) only: the workbench itself shows titles like "SPK001.md".
        for (const frame of page.frames().filter((f) => f !== page.mainFrame())) {
            const text = await frame.evaluate(() => document.body?.innerText ?? '').catch(() => '');
            if (text.includes(needle)) {
                return text;
            }
        }
        await page.waitForTimeout(250);
    }
    throw new Error(`no webview shows "${needle}"`);
}

await step('workbench', async () => {
    await page.goto(url);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60000 });
    await page.locator('.explorer-folders-view, .explorer-viewlet').first().waitFor({ timeout: 60000 });
});

async function openFile(name, text) {
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: 15000 });
    await input.fill(name);
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: name }).first()
        .waitFor({ timeout: 15000 });
    await page.keyboard.press('Enter');
    await editor.locator('.view-lines').waitFor({ timeout: 15000 });
    await page.waitForFunction((t) => document.querySelector('.editor-instance .view-lines')?.textContent?.includes(t),
        text, { timeout: 15000 });
}

await step('open file', async () => {
    await openFile(fileName, '.values');
});

await step('status bar ready', async () => {
    const item = page.locator('.statusbar-item', { hasText: 'Spark' }).first();
    await item.waitFor({ timeout: 60000 });
    await page.waitForFunction(() => [...document.querySelectorAll('.statusbar-item')]
        .some((e) => e.textContent?.includes('Spark') && e.querySelector('.codicon-check')), null, { timeout: 60000 });
    report.statusBar = { text: (await item.innerText()).trim(), label: await item.getAttribute('aria-label') };
});

await step('diagnostic', async () => {
    await squiggle.waitFor({ timeout: 60000 });
    report.squiggleClass = await squiggle.getAttribute('class');
    await page.keyboard.press('Control+Shift+M');
    const marker = page.locator('.markers-panel .monaco-list-row', { hasText: code }).first();
    await marker.waitFor({ timeout: 20000 });
    report.problems = (await page.locator('.markers-panel .monaco-list-row').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    const badge = page.locator('.panel .composite-bar .badge-content, .part.panel .badge .badge-content').first();
    report.problemsBadge = await badge.innerText().catch(() => null);
    report.problemsStatus = await page.locator('.statusbar-item[id="status.problems"]').getAttribute('aria-label').catch(() => null);
    await shot('1-diagnostic');
});

await step('hover', async () => {
    const at = await squiggleCenter();
    await page.mouse.move(at.x, at.y);
    const hover = page.locator('.monaco-hover:not(.hidden)', { hasText: code }).first();
    await hover.waitFor({ state: 'visible', timeout: 20000 });
    // The diagnostic's own line shows first; Spark's explanation follows (the first hover of a
    // session may wait for the agent's recommendation, up to 1.5 s).
    await page.locator('.monaco-hover:not(.hidden)', { hasText: 'Why:' }).first()
        .waitFor({ state: 'visible', timeout: 20000 });
    await page.waitForTimeout(300); // let the markdown finish rendering for the screenshot
    report.hover = await hover.innerText();
    await shot('2-hover');
});

await step('explain command', async () => {
    const at = await squiggleCenter();
    await page.mouse.click(at.x, at.y);
    await page.keyboard.press('Escape');
    await runCommand('Spark: Explain This Finding');
    report.explain = await frameText('Why:', 30000);
    await page.waitForTimeout(500);
    await shot('3-explain');
    await page.keyboard.press('Control+K');
    await page.keyboard.press('W'); // close the preview group's editors
});

await step('settings change', async () => {
    // Disabling the code in the workspace settings hides the finding (applied live, no restart);
    // removing that setting brings it back.
    const folder = join(workspace, '.vscode');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'settings.json'), JSON.stringify({ 'spark.disabledCodes': [code] }));
    await page.waitForFunction(() => !document.querySelector('.editor-instance [class*="squiggly-"]'), null, { timeout: 30000 });
    rmSync(folder, { recursive: true });
    await squiggle.waitFor({ timeout: 30000 });
});

await step('restart command', async () => {
    await runCommand('Spark: Restart Server');
    await page.waitForTimeout(500);
    await page.waitForFunction(() => [...document.querySelectorAll('.statusbar-item')]
        .some((e) => e.textContent?.includes('Spark') && e.querySelector('.codicon-check')), null, { timeout: 60000 });
    await squiggle.waitFor({ timeout: 30000 });
});

await step('search docs command', async () => {
    await runCommand('Spark: Search Docs');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: 10000 });
    await input.fill(searchQuery);
    await page.keyboard.press('Enter');
    // Results in a quick pick; or a message (no `spark search` in this Spark, no knowledge base).
    const toast = page.locator('.notifications-toasts .notification-toast', { hasText: 'Spark:' })
        .filter({ hasNotText: 'searching the docs' }).first();
    const results = page.locator('.quick-input-widget .monaco-list-row').first();
    await Promise.race([toast.waitFor({ timeout: 90000 }), results.waitFor({ timeout: 90000 })]);
    await page.waitForTimeout(300);
    if (await results.isVisible()) {
        report.search = { results: (await page.locator('.quick-input-widget .monaco-list-row').allInnerTexts())
            .map((t) => t.replace(/\s+/g, ' ').trim()) };
        await shot('7-search');
        await page.keyboard.press('Enter'); // open the first hit
        report.search.preview = await frameText(searchExpect, 30000);
        await page.waitForTimeout(300);
        await shot('7-search-preview');
        await page.keyboard.press('Control+K');
        await page.keyboard.press('W');
    } else {
        report.search = { message: (await toast.innerText()).replace(/\s+/g, ' ').trim() };
        await shot('7-search');
        await toast.hover();
        await toast.locator('.codicon-notifications-clear, .codicon-close').first().click().catch(() => {});
    }
});

async function openQuickFixMenu(menu, placeCursor) {
    // The click can land while the layout still moves (a closing preview, a fading toast), or the
    // first request can race the server's answer; a user simply tries again, and so does this.
    for (let attempt = 1; ; attempt++) {
        await placeCursor();
        await page.keyboard.press('Control+.');
        try {
            await menu.waitFor({ state: 'visible', timeout: 10000 });
            (report.quickFixAttempts ??= []).push(attempt);
            return;
        } catch (error) {
            if (attempt === 3) {
                throw error;
            }
            await page.keyboard.press('Escape');
            await page.waitForTimeout(1000);
        }
    }
}

await step('quick fix', async () => {
    const menu = page.locator('.action-widget');
    await openQuickFixMenu(menu, async () => {
        const at = await squiggleCenter();
        await page.mouse.click(at.x, at.y);
    });
    const fix = menu.locator('.monaco-list-row', { hasText: `${code}:` }).first();
    await fix.waitFor({ timeout: 20000 });
    report.codeActions = (await menu.locator('.monaco-list-row').allInnerTexts()).map((t) => t.trim()).filter(Boolean);
    await shot('4-quickfix-menu');
    // The menu is keyboard-driven (a pointer block covers it until the mouse moves): walk to the
    // fix and press Enter, as a user does.
    for (let i = 0; i < 8; i++) {
        const focused = await menu.locator('.monaco-list-row.focused').getAttribute('aria-label').catch(() => null);
        if (focused?.startsWith(`${code}:`)) {
            break;
        }
        await page.keyboard.press('ArrowDown');
    }
    report.chosenAction = await menu.locator('.monaco-list-row.focused').getAttribute('aria-label');
    await page.keyboard.press('Enter');
    await page.waitForFunction((text) => document.querySelector('.editor-instance .view-lines')?.textContent
        ?.replace(/\u00a0/g, ' ').includes(text), fixed, { timeout: 20000 });
});

await step('save', async () => {
    await page.keyboard.press('Control+S');
    await page.waitForFunction(() => !document.querySelector('.tabs-container .tab.active.dirty'), null, { timeout: 20000 });
    await page.waitForFunction(() => !document.querySelector('.editor-instance [class*="squiggly-"]'), null, { timeout: 20000 });
    report.editorText = (await editor.locator('.view-lines').innerText()).replace(/\u00a0/g, ' ');
    await shot('5-fixed');
});

await step('team stats command', async () => {
    await runCommand("Spark: Show My Team's Stats");
    report.stats = await frameText('Suggestions and what happened', 30000);
    await page.waitForTimeout(500);
    await shot('6-stats');
});

if (otherFile) {
    // Another extension's diagnostics (the fake linter stands in for Pylance): the Spark extension
    // forwards them (spark/otherDiagnostics) and Spark answers on their ranges.
    const errors = editor.locator('.squiggly-error').filter({ visible: true });
    async function errorCenters() {
        const deadline = Date.now() + 20000;
        while (Date.now() < deadline) {
            const boxes = (await errors.evaluateAll((els) => els.map((e) => {
                const r = e.getBoundingClientRect();
                return { x: r.x + r.width / 2, y: r.y + r.height / 2, width: r.width };
            }))).filter((b) => b.width > 0).sort((a, b) => a.y - b.y);
            const top = boxes.filter((b) => Math.abs(b.y - boxes[0]?.y) < 4);
            if (boxes.length >= 2 && top.length < boxes.length) {
                return [top[0], boxes[boxes.length - 1]]; // the `append` line, the `np` line below
            }
            await page.waitForTimeout(200);
        }
        throw new Error('no error squiggles on two lines');
    }

    await step('other tool diagnostics', async () => {
        await runCommand('View: Close All Editor Groups');
        await openFile(otherFile, '.append(');
        await errorCenters();
        const row = page.locator('.markers-panel .monaco-list-row', { hasText: 'Pylance' }).first();
        if (!(await row.isVisible().catch(() => false))) {
            await page.keyboard.press('Control+Shift+M');
        }
        await row.waitFor({ timeout: 20000 });
        report.otherProblems = (await page.locator('.markers-panel .monaco-list-row').allInnerTexts())
            .map((t) => t.replace(/\s+/g, ' ').trim());
    });

    await step('other tool hover', async () => {
        const [, np] = await errorCenters(); // `np` without its import, on the last line
        const hover = page.locator('.monaco-hover:not(.hidden)', { hasText: 'Spark:' }).first();
        // The forwarded set may reach Spark just after the squiggle appears: hover again, as a
        // user would, until Spark's section is there.
        for (let attempt = 0; ; attempt++) {
            await page.mouse.move(np.x, np.y);
            if (await hover.waitFor({ state: 'visible', timeout: 3000 }).then(() => true, () => false)) {
                report.otherHoverAttempts = attempt + 1;
                break;
            }
            if (attempt >= 5) {
                throw new Error('no Spark section in the hover on the other tool\'s diagnostic');
            }
            await page.mouse.move(5, 5);
            await page.keyboard.press('Escape');
            await page.waitForTimeout(300);
        }
        await page.waitForTimeout(300);
        report.otherHover = await hover.innerText();
        await shot('8-other-hover');
        await page.mouse.move(5, 5);
        await page.keyboard.press('Escape');
    });

    await step('other tool quick fix', async () => {
        // The cursor on `append`, inside Pylance's "Cannot access attribute "append"" (Spark's own
        // SPK004 squiggle covers the whole call and merges with it on screen): Go to Line line:col.
        const lines = readFileSync(join(workspace, otherFile), 'utf8').split('\n');
        const row = lines.findIndex((l) => l.includes('.append('));
        const menu = page.locator('.action-widget');
        await openQuickFixMenu(menu, async () => {
            await page.keyboard.press('Control+G');
            const input = page.locator('.quick-input-widget input');
            await input.waitFor({ state: 'visible', timeout: 10000 });
            await input.fill(`:${row + 1}:${lines[row].indexOf('.append(') + 3}`);
            await page.keyboard.press('Enter');
        });
        await menu.locator('.monaco-list-row', { hasText: 'Spark: how to fix this' }).first().waitFor({ timeout: 20000 });
        report.otherActions = (await menu.locator('.monaco-list-row').allInnerTexts()).map((t) => t.trim()).filter(Boolean);
        await shot('9-other-quickfix-menu');
        for (let i = 0; i < 12; i++) {
            const focused = await menu.locator('.monaco-list-row.focused').getAttribute('aria-label').catch(() => null);
            if (focused?.startsWith('Spark: how to fix this')) {
                break;
            }
            await page.keyboard.press('ArrowDown');
        }
        report.otherChosenAction = await menu.locator('.monaco-list-row.focused').getAttribute('aria-label');
        await page.keyboard.press('Enter');
        await page.waitForFunction(() => document.querySelector('.editor-instance .view-lines')?.textContent
            ?.replace(/\u00a0/g, ' ').includes('pd.concat(['), null, { timeout: 20000 });
        report.otherEditorText = (await editor.locator('.view-lines').innerText()).replace(/\u00a0/g, ' ');
        await shot('10-other-fixed');
    });
}

save();
await browser.close();
