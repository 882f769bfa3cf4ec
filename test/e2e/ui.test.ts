// The web UI in a real headless Chromium (Debian's, driven by playwright-core) against real agents:
// a stand-alone agent with an API token (apps listed live, output followed, restart by the button after
// giving the token, a failing health check shown, an API error shown readably, the unreachable banner),
// then a three-agent cluster (leader marked, a task's placements in the tasks table and the topology
// matrix). A screenshot of each view goes to .test-results/ui/. Skipped, with the reason printed, only
// where hack/install-chromium.sh cannot provide a Chromium.
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { chromium, type Browser, type Page } from 'playwright-core';
import { request } from 'undici';
import { startAgent, type AgentProcess } from '../fixtures/agent.js';
import { CHROMIUM_ARGS, findChromium } from '../fixtures/chromium.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { eventually } from '../fixtures/eventually.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const SCREENSHOTS = resolve(ROOT, process.env['APPMESH_TEST_OUTPUT'] ?? '.test-results', 'ui');
const TOKEN = 'ui-test-token-7f3a';
/** Generous bounds against hangs only; the page updates within a second. */
const UI_WAIT_MS = 15_000;
async function api(agent: AgentProcess, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await request(`${agent.url}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${method} ${path}: ${response.statusCode} ${text}`);
  return JSON.parse(text) as unknown;
}

const cellText = (page: Page, row: string, field: string) =>
  page.locator(`${row} td[data-field="${field}"]`).innerText();

describe('web UI in headless Chromium', function () {
  this.timeout(180_000);
  let browser: Browser | undefined;

  before(async function () {
    // A machine without Chromium installs Debian's package first (bounded by the script's own timeout).
    this.timeout(660_000);
    const found = await findChromium();
    if ('missing' in found) {
      console.log(`    skipping the web UI tests: ${found.missing}`);
      this.skip();
    }
    await mkdir(SCREENSHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: found.path,
      args: [...CHROMIUM_ARGS],
      timeout: 60_000,
    });
  });

  after(async function () {
    await browser?.close();
  });

  async function open(url: string): Promise<Page> {
    if (!browser) throw new Error('no browser');
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.setDefaultTimeout(UI_WAIT_MS);
    await page.goto(url);
    return page;
  }

  describe('a stand-alone agent with an API token', function () {
    let agent: AgentProcess;
    let page: Page;

    before(async function () {
      agent = await startAgent({ env: { APPMESH_API_TOKEN: TOKEN } });
    });

    after(async function () {
      await page?.close();
      await agent?.stop();
    });

    it('asks for the token before showing anything, refusing a wrong one', async function () {
      await api(agent, 'PUT', '/appmesh/app/ticker', {
        command: 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.2; done',
        shell: true,
      });
      page = await open(`${agent.url}/ui/`);
      const form = page.locator('form[data-testid="token-form"]');
      await form.waitFor({ state: 'visible' });
      await page.screenshot({ path: resolve(SCREENSHOTS, 'token-form.png') });
      expect(await page.locator('table[data-testid="apps"] tr[data-app]').count()).to.equal(0);
      // A wrong token is refused by the agent; its message is shown and the form asks again.
      await form.locator('input[name="token"]').fill('not-the-token');
      await form.locator('input[name="token"]').press('Enter');
      await eventually(
        'the refusal shown',
        async () => (await form.isVisible()) && (await form.innerText()).includes('needs the API token'),
        UI_WAIT_MS,
        100,
      );
      expect(await page.locator('table[data-testid="apps"] tr[data-app]').count()).to.equal(0);
      await form.locator('input[name="token"]').fill(TOKEN);
      await form.locator('input[name="token"]').press('Enter');
      await page.locator('table[data-testid="apps"] tr[data-app="ticker"]').waitFor();
    });

    it('lists an app put through the REST API and follows its output', async function () {
      const row = 'table[data-testid="apps"] tr[data-app="ticker"]';
      await page.locator(row).waitFor();
      await eventually(
        'ticker shown running',
        async () => (await cellText(page, row, 'state')) === 'running',
        UI_WAIT_MS,
        100,
      );
      const listed = (await api(agent, 'GET', '/appmesh/app/ticker')) as { pid: number };
      expect(await cellText(page, row, 'pid')).to.equal(String(listed.pid));
      expect(await cellText(page, row, 'owner')).to.equal('local');

      await page.locator(row).click();
      const detail = page.locator('[data-testid="app-detail"][data-app="ticker"]');
      await detail.waitFor();
      expect(await detail.locator('pre[data-testid="spec"]').innerText()).to.contain('"shell": true');
      const output = detail.locator('pre[data-testid="output"]');
      await eventually(
        'output shown',
        async () => /tick \d+/.test(await output.innerText()),
        UI_WAIT_MS,
        100,
      );
      const lines = async () =>
        (await output.innerText()).split('\n').filter((l) => l.startsWith('tick')).length;
      const before = await lines();
      await eventually(
        'new output lines appended',
        async () => (await lines()) > before + 2,
        UI_WAIT_MS,
        100,
      );
      await page.screenshot({ path: resolve(SCREENSHOTS, 'app-detail.png') });
    });

    it('restarts the app with the button, with the token it was given (its pid changes)', async function () {
      const row = 'table[data-testid="apps"] tr[data-app="ticker"]';
      const pidBefore = await cellText(page, row, 'pid');
      await page.locator('button[data-action="restart"]').click();
      await eventually(
        'a new pid after the restart',
        async () => {
          const pid = await cellText(page, row, 'pid');
          return pid !== '' && pid !== pidBefore;
        },
        UI_WAIT_MS,
        100,
      );
      const listed = (await api(agent, 'GET', '/appmesh/app/ticker')) as { pid: number; starts: number };
      expect(await cellText(page, row, 'pid')).to.equal(String(listed.pid));
      expect(listed.starts).to.equal(2);
      await eventually(
        'restarts shown',
        async () => (await cellText(page, row, 'restarts')) === '1',
        UI_WAIT_MS,
        100,
      );
    });

    it('shows a failing health check', async function () {
      await api(agent, 'PUT', '/appmesh/app/sick', {
        command: 'sleep 600',
        health_check_cmd: 'false',
      });
      const row = 'table[data-testid="apps"] tr[data-app="sick"]';
      await eventually(
        'sick shown unhealthy',
        async () =>
          (await page.locator(row).count()) > 0 && (await cellText(page, row, 'health')) === 'unhealthy',
        UI_WAIT_MS,
        100,
      );
      expect(await cellText(page, 'table[data-testid="apps"] tr[data-app="ticker"]', 'health')).to.not.equal(
        'unhealthy',
      );
      await page.screenshot({ path: resolve(SCREENSHOTS, 'apps.png') });
    });

    it('shows an API error as a readable message', async function () {
      // A link to an app the agent does not have: the agent answers 404 with a JSON error.
      await page.goto(`${agent.url}/ui/#/apps/ghost`);
      const detail = page.locator('[data-testid="app-detail"][data-app="ghost"]');
      await eventually(
        'the 404 shown as a note',
        async () => (await detail.innerText()).includes('no app named ghost'),
        UI_WAIT_MS,
        100,
      );
      expect(await detail.innerText()).to.not.match(/at .*\.js:\d+/); // a message, not a stack trace
      expect(
        await page.locator('[data-testid="app-detail"] button[data-action="restart"]').isDisabled(),
      ).to.equal(true);
      await page.goto(`${agent.url}/ui/#/apps`);
    });

    it('shows a banner while the agent is unreachable', async function () {
      await agent.stop();
      const banner = page.locator('[data-testid="banner"]');
      await banner.waitFor({ state: 'visible' });
      expect(await banner.innerText()).to.match(/reach/i);
      await page.screenshot({ path: resolve(SCREENSHOTS, 'unreachable.png') });
    });
  });

  describe('a three-agent cluster', function () {
    let cluster: TestCluster;
    let page: Page;

    before(async function () {
      cluster = await startCluster({ nodes: { u1: [], u2: [], u3: ['--label', 'zone=west'] } });
      cluster.trackArgv(['sleep', '4242']);
    });

    after(async function () {
      await page?.close();
      await cluster?.close();
    });

    it('shows the nodes with the leader marked, and a task placed on two of them', async function () {
      await cluster.putTask('pair', { replication: 2, content: { name: 'pair', command: 'sleep 4242' } });
      const status = await eventually(
        'pair placed',
        async () => {
          const s = await cluster.status('pair');
          return s?.scheduled === 2 ? s : undefined;
        },
        UI_WAIT_MS,
        100,
      );
      const leader = await cluster.leaderNode();
      expect(leader).to.be.a('string');
      const viewer = cluster.agents.get('u1');
      if (!viewer) throw new Error('u1 is not running');

      // A link with the token in its fragment (as `make run` prints): kept for the tab, gone from the URL.
      page = await open(`${viewer.url}/ui/#/cluster&token=${viewer.token}`);
      await eventually(
        'the token gone from the URL',
        () => !page.url().includes(viewer.token),
        UI_WAIT_MS,
        50,
      );
      expect(new URL(page.url()).hash).to.equal('#/cluster');
      await page.locator('table[data-testid="nodes"] tr[data-node="u3"]').waitFor();
      expect(
        await page.locator('table[data-testid="nodes"] tr[data-leader="true"]').getAttribute('data-node'),
      ).to.equal(leader);
      expect(await page.locator('table[data-testid="nodes"] tr[data-node="u3"]').innerText()).to.contain(
        'zone',
      );

      const task = 'table[data-testid="tasks"] tr[data-task="pair"]';
      await eventually(
        'pair running on 2 nodes',
        async () => (await page.locator(task).count()) > 0 && (await cellText(page, task, 'running')) === '2',
        UI_WAIT_MS,
        100,
      );
      expect(await cellText(page, task, 'desired')).to.equal('2');
      expect(await cellText(page, task, 'scheduled')).to.equal('2');
      for (const node of ['u1', 'u2', 'u3']) {
        const cell = page.locator(`table[data-testid="topology"] td[data-node="${node}"][data-task="pair"]`);
        expect(await cell.innerText(), node).to.equal(status.nodes.includes(node) ? '●' : '');
      }
      await page.screenshot({ path: resolve(SCREENSHOTS, 'cluster.png'), fullPage: true });
    });

    it('answers the cluster API from its watches', async function () {
      const viewer = cluster.agents.get('u2');
      if (!viewer) throw new Error('u2 is not running');
      const tasks = (await api(viewer, 'GET', '/appmesh/cluster/tasks')) as Array<{
        name: string;
        scheduled: number;
      }>;
      expect(tasks.find((t) => t.name === 'pair')?.scheduled).to.equal(2);
      const topology = (await api(viewer, 'GET', '/appmesh/cluster/topology')) as Record<string, string[]>;
      expect(Object.values(topology).filter((apps) => apps.includes('pair'))).to.have.length(2);
    });
  });
});
