/**
 * A real browser for the e2e tier: Debian's Chromium driven by playwright-core. One scenario per
 * run, given as JSON on argv[2]; prints one JSON line per step and a final {"result": ...} line;
 * exits non-zero when the scenario does not end as expected. Screenshots of every step go to
 * `screenshots` (test artifacts).
 *
 *   node lib/test/e2e/browser/driver.js '{"scenario": "lab", "url": ..., ...}'
 *
 * Scenarios (the page at `url` is a stand-in LMS course page with an iframe named "tool"):
 *   lab        the launch ends in JupyterLab inside the frame (`labPath`); a new notebook's cell
 *              prints `expectOutput`, the notebook is saved and its saved output read back
 *   fallback   the frame ends on the hub's "continue in a new window" page; its button opens a
 *              window that ends in JupyterLab, where a cell runs as above
 *   refused    the frame's document never loads from `refusedUrl` (the browser enforces the
 *              hub's frame-ancestors); the CSP violation the browser reports is returned
 *   formgrader after `lab`, the frame opens `formgraderPath` and shows nbgrader's formgrader
 *              (`lab` with `assignmentList`: after the cell, Nbgrader > Assignment List is opened
 *              in the frame and the server's answer for the user's courses is returned)
 *   launcher   `url` is the demo launcher's page: the button `launch` ends in JupyterLab in the
 *              page's frame or a new window (its target), where a cell runs; with
 *              `formgraderPath`, that document then shows the formgrader
 *
 * Only loopback: `hostMap` names and localhost resolve to 127.0.0.1, every other name fails.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { BrowserContext, chromium, ConsoleMessage, Frame, Page } from 'playwright-core';

interface Spec {
  readonly scenario: 'lab' | 'fallback' | 'refused' | 'formgrader' | 'launcher';
  /** launcher: the demo launcher button to click (its data-launch: course/role/protocol/target). */
  readonly launch?: string;
  readonly url: string;
  readonly chromium: string;
  readonly hostMap: readonly string[];
  /** false: Chromium's default, third-party cookies blocked. */
  readonly thirdPartyCookies: boolean;
  readonly screenshots: string;
  readonly labPath?: string;
  readonly code?: string;
  readonly expectOutput?: string;
  readonly notebook?: string;
  readonly refusedUrl?: string;
  readonly formgraderPath?: string;
  /** lab: also open nbgrader's Assignment List (user servers load nbgrader at that first request). */
  readonly assignmentList?: boolean;
  readonly timeoutMs?: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
const timeout = spec.timeoutMs ?? 120_000;
const started = Date.now();
let shot = 0;
/** Frames received on kernel channel websockets, all windows: > 0 once a kernel answered. */
let kernelFrames = 0;

function watchWebsockets(page: Page, messages: string[]): void {
  page.on('websocket', (ws) => {
    messages.push(`websocket ${ws.url()}`);
    if (ws.url().includes('/channels')) ws.on('framereceived', () => { kernelFrames += 1; });
    ws.on('socketerror', (e) => messages.push(`websocket error ${ws.url()}: ${e}`));
    ws.on('close', () => messages.push(`websocket closed ${ws.url()}`));
  });
}

function step(what: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ step: what, t: +((Date.now() - started) / 1000).toFixed(1), ...extra })}\n`);
}

async function screenshot(page: Page, name: string): Promise<void> {
  shot += 1;
  const file = join(spec.screenshots, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  step(`screenshot ${name}`, { file });
}

/** Loads `url` (a GET) in a page or frame. Chromium aborts a load with net::ERR_NETWORK_CHANGED
 * when the host's network interfaces change under it — on a Docker host whenever a container
 * starts or stops (a veth comes or goes) — and shows "A network change was detected", where a
 * person presses reload. So does this, at most 4 more times, each said in the steps. */
async function load(where: Page | Frame, url: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await where.goto(url, { timeout });
      return;
    } catch (e) {
      if (attempt >= 5 || !String(e).includes('ERR_NETWORK_CHANGED')) throw e;
      step('the network changed during the load: loading again', { url, attempt });
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** The frame named "tool" once it shows a document from `pathPattern`. */
async function toolFrame(page: Page, pathPattern: RegExp): Promise<Frame> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const frame = page.frame({ name: 'tool' });
    if (frame !== null && pathPattern.test(new URL(frame.url(), 'https://x').pathname)) return frame;
    if (Date.now() > deadline) throw new Error(`the tool frame never reached ${pathPattern} (at ${frame?.url() ?? 'no frame'})`);
    await page.waitForTimeout(250);
  }
}

/** In a JupyterLab document (a frame or a page): a new notebook, one cell run, saved; returns what
 * the saved notebook holds as the cell's output, read back through the contents API. */
async function runCell(where: Frame | Page, page: Page, labPath: string): Promise<string> {
  const card = where.locator('.jp-LauncherCard[data-category="Notebook"]').first();
  // A returning user's workspace may open without a launcher: JupyterLab's "+" opens one.
  if (!(await card.isVisible())) await where.locator('[data-command="launcher:create"]').first().click({ timeout });
  await card.click({ timeout });
  step('new notebook');
  const panel = where.locator('.jp-NotebookPanel').first();
  // Run only once the kernel is connected: an execution sent while JupyterLab still replaces
  // its kernel connection can be lost (the cell then shows no run at all).
  await panel.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').waitFor({ timeout }).catch(() => undefined);
  const deadline = Date.now() + timeout;
  while (kernelFrames === 0 && Date.now() < deadline) await page.waitForTimeout(200);
  step('kernel connected', { framesReceived: kernelFrames });
  const editor = panel.locator('.jp-Cell .cm-content').first();
  await editor.click({ timeout });
  await editor.pressSequentially(spec.code ?? 'print(6 * 7)');
  await panel.press('Shift+Enter');
  const output = panel.locator('.jp-OutputArea-output').first();
  if (!(await output.waitFor({ timeout: 30_000 }).then(() => true, () => false))) {
    // Said once, honestly, in the steps: the first run was lost, the cell is run again.
    step('no output after 30 s: running the cell again');
    await editor.click({ timeout });
    await panel.press('Control+Enter');
    await output.waitFor({ timeout });
  }
  const printed = (await output.innerText()).trim();
  step('cell ran', { printed });
  await screenshot(page, 'cell-ran');
  await where.locator('.jp-NotebookPanel').first().press('Control+s');
  // JupyterLab asks for a name at the first save of an untitled notebook.
  const dialog = where.locator('.jp-Dialog');
  await dialog.waitFor({ timeout: 5_000 }).catch(() => undefined);
  let savedAs = '';
  if (await dialog.isVisible()) {
    savedAs = spec.notebook ?? 'in-the-lms.ipynb';
    await dialog.locator('input').first().fill(savedAs);
    await dialog.locator('.jp-Dialog-button.jp-mod-accept').click({ timeout });
    step('saved as', { name: savedAs });
  }
  // The saved file, as the server has it (the session's own cookies, in the same document).
  const base = labPath.replace(/\/lab\/?$/, '');
  const saved = await where.evaluate(async ({ base, savedAs, timeoutMs }) => {
    // Cookie-authenticated API calls need JupyterHub's XSRF token, as JupyterLab sends it.
    const xsrf = decodeURIComponent((/(?:^|;\s*)_xsrf=([^;]*)/.exec(String(Reflect.get(globalThis, 'document').cookie)) ?? [])[1] ?? '');
    const get = async (url: string): Promise<unknown> => {
      const r = await fetch(url, { credentials: 'same-origin', headers: { 'X-XSRFToken': xsrf } });
      if (r.status === 404) return null; // renamed meanwhile: look again
      if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${await r.text()}`);
      return r.json();
    };
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const list = (await get(`${base}/api/contents/?content=1`)) as { content: { name: string; type: string }[] };
      const names = savedAs !== '' ? [savedAs] : list.content.filter((f) => f.type === 'notebook').map((f) => f.name);
      for (const name of names) {
        const nb = (await get(`${base}/api/contents/${encodeURIComponent(name)}?content=1`)) as { content: { cells: { outputs?: { text?: string | string[] }[] }[] } } | null;
        if (nb === null) continue;
        const text = nb.content.cells.flatMap((c) => c.outputs ?? []).map((o) => (Array.isArray(o.text) ? o.text.join('') : o.text ?? '')).join('');
        if (text.trim() !== '') return { name, text: text.trim() };
      }
      if (Date.now() > deadline) return { name: '', text: '' };
      await new Promise((r) => setTimeout(r, 500));
    }
  }, { base, savedAs, timeoutMs: 30_000 });
  step('saved', saved);
  if (printed !== (spec.expectOutput ?? '42') || saved.text !== printed) {
    throw new Error(`cell printed ${JSON.stringify(printed)}, saved ${JSON.stringify(saved)}; expected ${JSON.stringify(spec.expectOutput ?? '42')}`);
  }
  return saved.text;
}

/** Nbgrader > Assignment List in JupyterLab's menu bar; the panel first asks the server for the
 * user's courses (`<labPath minus lab>/courses`): that answer, once the panel shows. */
async function openAssignmentList(frame: Frame, page: Page, labPath: string): Promise<{ status: number; success: boolean; value: unknown }> {
  const coursesPath = labPath.replace(/lab\/?$/, 'courses');
  const answer = page.waitForResponse((r) => new URL(r.url()).pathname === coursesPath, { timeout });
  await frame.locator('.lm-MenuBar-itemLabel', { hasText: 'Nbgrader' }).click();
  await frame.locator('.lm-Menu-itemLabel', { hasText: 'Assignment List' }).click();
  const r = await answer;
  const body = (await r.json()) as { success: boolean; value: unknown };
  await frame.locator('#released_assignments_list, .list_container').first().waitFor({ timeout });
  step('Assignment List', { status: r.status(), success: body.success, value: body.value });
  await screenshot(page, 'assignment-list');
  return { status: r.status(), success: body.success, value: body.value };
}

async function openContext(profile: string): Promise<BrowserContext> {
  // Names in hostMap and localhost are 127.0.0.1; every other name fails to resolve.
  const rules = [...spec.hostMap.map((h) => `MAP ${h} 127.0.0.1`), 'MAP localhost 127.0.0.1', 'MAP * ~NOTFOUND', 'EXCLUDE 127.0.0.1'];
  const args = [`--host-resolver-rules=${rules.join(', ')}`, '--no-sandbox'];
  if (spec.thirdPartyCookies) {
    // The user's setting "Allow third-party cookies" (cookie_controls_mode 0) in a fresh profile.
    mkdirSync(join(profile, 'Default'), { recursive: true });
    writeFileSync(join(profile, 'Default', 'Preferences'), JSON.stringify({ profile: { cookie_controls_mode: 0, block_third_party_cookies: false } }));
  }
  return chromium.launchPersistentContext(profile, {
    executablePath: spec.chromium, headless: true, args, ignoreHTTPSErrors: true, viewport: { width: 1280, height: 860 },
  });
}

async function main(): Promise<number> {
  mkdirSync(spec.screenshots, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'jhlti-chromium-'));
  const context = await openContext(profile);
  const messages: string[] = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m: ConsoleMessage) => messages.push(`${m.type()}: ${m.text()}`));
    watchWebsockets(page, messages);
    context.on('page', (p: Page) => {
      p.on('console', (m: ConsoleMessage) => messages.push(`[window] ${m.type()}: ${m.text()}`));
      watchWebsockets(p, messages);
    });
    step('open LMS page', { url: spec.url, thirdPartyCookies: spec.thirdPartyCookies });
    await load(page, spec.url);
    await screenshot(page, 'lms-page');
    let result: Record<string, unknown> = {};
    if (spec.scenario === 'lab' || spec.scenario === 'formgrader') {
      const labPath = spec.labPath as string;
      const frame = await toolFrame(page, new RegExp(`^${labPath}/?$`));
      await frame.locator('#jp-main-dock-panel').waitFor({ timeout });
      const frameUrl = frame.url();
      step('JupyterLab in the frame', { url: frameUrl });
      await screenshot(page, 'lab-in-frame');
      const saved = await runCell(frame, page, labPath);
      result = { frameUrl, saved };
      if (spec.assignmentList) result.courses = await openAssignmentList(frame, page, labPath);
      if (spec.scenario === 'formgrader') {
        await load(frame, new URL(spec.formgraderPath as string, frame.url()).href);
        await frame.getByText('Manage Assignments').first().waitFor({ timeout });
        step('formgrader in the frame', { url: frame.url() });
        await screenshot(page, 'formgrader-in-frame');
        result.formgraderUrl = frame.url();
      }
    } else if (spec.scenario === 'fallback') {
      const frame = await toolFrame(page, /^\/hub\//);
      const button = frame.getByRole('button', { name: 'Open in a new window' });
      await button.waitFor({ state: 'visible', timeout });
      const heading = await frame.locator('#jhlti-blocked h1').innerText();
      step('fallback page in the frame', { heading, url: frame.url() });
      await screenshot(page, 'fallback-in-frame');
      const [popup] = await Promise.all([context.waitForEvent('page', { timeout }), button.click()]);
      const labPath = spec.labPath as string;
      await popup.waitForURL((u) => new RegExp(`^${labPath}/?$`).test(u.pathname), { timeout });
      await popup.locator('#jp-main-dock-panel').waitFor({ timeout });
      const windowUrl = popup.url();
      step('JupyterLab in the new window', { url: windowUrl });
      await screenshot(popup, 'lab-in-new-window');
      const saved = await runCell(popup, popup, labPath);
      result = { heading, windowUrl, saved };
    } else if (spec.scenario === 'launcher') {
      const labPath = spec.labPath as string;
      const button = page.locator(`button[data-launch="${spec.launch ?? ''}"]`);
      let where: Frame | Page;
      let shown: Page;
      if ((spec.launch ?? '').endsWith('/window')) {
        const [popup] = await Promise.all([context.waitForEvent('page', { timeout }), button.click({ timeout })]);
        await popup.waitForURL((u) => new RegExp(`^${labPath}/?$`).test(u.pathname), { timeout });
        where = shown = popup;
      } else {
        await button.click({ timeout });
        where = await toolFrame(page, new RegExp(`^${labPath}/?$`));
        shown = page;
      }
      await where.locator('#jp-main-dock-panel').waitFor({ timeout });
      const labUrl = where.url();
      step('JupyterLab from the launcher', { url: labUrl });
      await screenshot(shown, 'lab-from-launcher');
      const saved = await runCell(where, shown, labPath);
      result = { labUrl, saved };
      if (spec.formgraderPath !== undefined) {
        await load(where, new URL(spec.formgraderPath, labUrl).href);
        await where.getByText('Manage Assignments').first().waitFor({ timeout });
        step('formgrader', { url: where.url() });
        await screenshot(shown, 'formgrader');
        result.formgraderUrl = where.url();
      }
    } else if (spec.scenario === 'refused') {
      await page.waitForTimeout(3000);
      const frame = page.frame({ name: 'tool' });
      const loaded = frame === null ? '' : await frame.evaluate('location.href').then((h) => String(h), () => '');
      const violation = messages.find((m) => m.includes('frame-ancestors')) ?? '';
      step('framing refused?', { frameUrl: frame?.url(), loaded, violation });
      await screenshot(page, 'refused');
      if (loaded.startsWith(spec.refusedUrl as string) || violation === '') {
        throw new Error(`the frame loaded ${loaded || '(nothing)'}; CSP violation reported: ${violation || 'none'}`);
      }
      result = { violation };
    }
    process.stdout.write(`${JSON.stringify({ result })}\n`);
    return 0;
  } catch (e) {
    for (const [i, page] of context.pages().entries()) await screenshot(page, `failure-window-${i}`).catch(() => undefined);
    process.stdout.write(`${JSON.stringify({ error: String(e instanceof Error ? e.stack ?? e.message : e), console: messages.slice(-30) })}\n`);
    return 1;
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (e) => {
  process.stdout.write(`${JSON.stringify({ error: String(e) })}\n`);
  process.exit(1);
});
