// Benchmark: the web UI with 200 apps, in Debian's headless Chromium (playwright-core). Measures what
// the page weighs, how long until all 200 rows are on screen, how soon a restart shows its new pid in
// the table (server-sent events), and the main thread's long tasks (> 50 ms) while apps restart
// continuously. Numbers are printed and written to bench/results/ui.json, never asserted.
// Run: make bench   (or: node dist/hack/bench/ui.js [count])
import { chromium, type Page } from 'playwright-core';
import { request } from 'undici';
import {
  authHeaders,
  makeDataDir,
  pidsRunning,
  removeDataDir,
  startAgent,
} from '../../test/fixtures/agent.js';
import { CHROMIUM_ARGS, findChromium } from '../../test/fixtures/chromium.js';
import { summarize, writeResult } from './results.js';

const COUNT = Number(process.argv[2] ?? 200);
const LOAD_RUNS = 5;
const RESTART_SAMPLES = 20;
const CHURN_MS = 10_000;
const CHURN_RESTARTS_PER_SECOND = 20;
const SLEEP_BASE = 300_000;

async function call(url: string, method: 'GET' | 'PUT' | 'POST', body?: unknown): Promise<unknown> {
  const response = await request(url, {
    method,
    headers: { ...authHeaders(agent), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${method} ${url}: ${response.statusCode} ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

/** The page's CSP forbids eval; the benchmark's own probes are strings evaluated in the page, so they bypass it. */
const HARNESS = { bypassCSP: true } as const;
const ALL_ROWS = `document.querySelectorAll('table[data-testid="apps"] tr[data-app]').length === ${COUNT}`;
const rows = (page: Page) => page.locator('table[data-testid="apps"] tr[data-app]').count();

const found = await findChromium();
if ('missing' in found) {
  console.log(`ui benchmark: skipped, no Chromium (${found.missing})`);
  process.exit(0);
}

const dataDir = await makeDataDir();
const agent = await startAgent({ dataDir, env: { APPMESH_LOG_LEVEL: 'warn' } });
const browser = await chromium.launch({ executablePath: found.path, args: [...CHROMIUM_ARGS] });
try {
  for (let i = 0; i < COUNT; i++) {
    await call(`${agent.url}/appmesh/app/ui-${String(i).padStart(3, '0')}`, 'PUT', {
      command: `sleep ${SLEEP_BASE + i}`,
    });
  }
  const deadline = Date.now() + 120_000;
  for (;;) {
    const apps = (await call(`${agent.url}/appmesh/applications`, 'GET')) as Array<{ state: string }>;
    if (apps.filter((a) => a.state === 'running').length === COUNT) break;
    if (Date.now() > deadline) throw new Error(`not all ${COUNT} apps running within 2 minutes`);
    await new Promise((r) => setTimeout(r, 100));
  }

  // Page weight and time to a full table, each load in a fresh page (no cache shared between pages).
  const loadMs: number[] = [];
  let pageBytes = 0;
  for (let run = 0; run < LOAD_RUNS; run++) {
    const context = await browser.newContext(HARNESS);
    const page = await context.newPage();
    let bytes = 0;
    page.on('response', (response) => {
      if (new URL(response.url()).pathname.startsWith('/ui'))
        void response.body().then((body) => (bytes += body.length), () => undefined);
    });
    const began = performance.now();
    await page.goto(`${agent.url}/ui/`);
    await page.waitForFunction(ALL_ROWS, undefined, { polling: 'raf', timeout: 30_000 });
    loadMs.push(performance.now() - began);
    if (run === 0) {
      await page.waitForLoadState('networkidle').catch(() => undefined);
      pageBytes = bytes;
      if ((await rows(page)) !== COUNT) throw new Error('the table lost rows');
    }
    await context.close();
  }

  // Restart -> new pid in the table, and long tasks while apps restart all the time.
  const page = await browser.newPage(HARNESS);
  // Page scripts are strings: this file is compiled for Node, without the DOM's types.
  await page.addInitScript({
    content:
      'window.longTasks = []; new PerformanceObserver((list) => { for (const e of list.getEntries()) ' +
      "window.longTasks.push(e.duration); }).observe({ type: 'longtask', buffered: true });",
  });
  await page.goto(`${agent.url}/ui/`);
  await page.waitForFunction(ALL_ROWS, undefined, { polling: 'raf', timeout: 30_000 });
  const restartMs: number[] = [];
  for (let i = 0; i < RESTART_SAMPLES; i++) {
    const name = `ui-${String(i * 7).padStart(3, '0')}`;
    const cell = `table[data-testid="apps"] tr[data-app="${name}"] td[data-field="pid"]`;
    const before = await page.locator(cell).innerText();
    const began = performance.now();
    await call(`${agent.url}/appmesh/app/${name}/restart`, 'POST');
    await page.waitForFunction(
      `(() => { const t = document.querySelector(${JSON.stringify(cell)})?.textContent ?? ''; ` +
        `return t !== '' && t !== ${JSON.stringify(before)}; })()`,
      undefined,
      { polling: 'raf', timeout: 10_000 },
    );
    restartMs.push(performance.now() - began);
  }

  await page.evaluate('window.longTasks = []');
  const churnEnd = performance.now() + CHURN_MS;
  let churned = 0;
  while (performance.now() < churnEnd) {
    const tick = performance.now();
    for (let i = 0; i < CHURN_RESTARTS_PER_SECOND / 4; i++) {
      const name = `ui-${String((churned++ * 13) % COUNT).padStart(3, '0')}`;
      await call(`${agent.url}/appmesh/app/${name}/restart`, 'POST');
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 250 - (performance.now() - tick))));
  }
  const longTasks = await page.evaluate<number[]>('window.longTasks');
  const heapBytes = await page.evaluate<number>('performance.memory?.usedJSHeapSize ?? 0');
  const alive = (await pidsRunning(['sleep', String(SLEEP_BASE)])).length;

  const load = summarize(loadMs);
  const restart = summarize(restartMs);
  const longest = Math.max(0, ...longTasks);
  console.log(`ui benchmark: ${COUNT} apps, Debian Chromium headless (${found.path})`);
  console.log(`  page weight (html+js+css)         ${(pageBytes / 1024).toFixed(1)} KiB`);
  console.log(`  load -> ${COUNT} rows                  p50 ${load.p50} ms  max ${load.max} ms  (n=${load.n})`);
  console.log(`  restart -> new pid in the table   p50 ${restart.p50} ms  p95 ${restart.p95} ms  (n=${restart.n})`);
  console.log(
    `  ${churned} restarts in ${CHURN_MS / 1000} s: ${longTasks.length} long tasks (> 50 ms), longest ${longest.toFixed(0)} ms; JS heap ${(heapBytes / 1024 / 1024).toFixed(1)} MiB`,
  );
  console.log(`  sanity: ui-000 running: ${alive === 1 ? 'yes' : 'NO'}`);
  await writeResult({
    name: 'ui',
    command: `node dist/hack/bench/ui.js ${COUNT}`,
    figures: {
      apps: COUNT,
      pageKiB: Math.round((pageBytes / 1024) * 10) / 10,
      loadToAllRowsMs: load,
      restartToNewPidMs: restart,
      churn: {
        restarts: churned,
        seconds: CHURN_MS / 1000,
        longTasks: longTasks.length,
        longestTaskMs: Math.round(longest),
      },
      jsHeapMiB: Math.round((heapBytes / 1024 / 1024) * 10) / 10,
    },
    notes: [
      `Load: from page.goto of /ui/ in a fresh browser context until all ${COUNT} rows exist (checked every animation frame); ${LOAD_RUNS} loads.`,
      'Restart: from POST /appmesh/app/<name>/restart until the row shows a different pid (the apps event is throttled to 10 a second).',
      `Churn: ${CHURN_RESTARTS_PER_SECOND} restarts a second for ${CHURN_MS / 1000} s through the REST API while the page is open; long tasks from the browser's PerformanceObserver.`,
      'Page weight: bodies of the /ui/ responses of the first load.',
    ],
  });
} finally {
  await browser.close();
  await agent.stop('SIGTERM');
  await removeDataDir(dataDir);
}
