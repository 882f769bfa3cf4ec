// The agent's HTTP surface is safe by default (issue 14): a real `appmesh agent` process with no token
// configured, attacked as another local user and as a web page would (DNS rebinding, cross-origin
// simple requests), and as a client that never reads its event stream. Raw sockets send exactly the
// headers a browser would; every socket and process is ended by the test that made it.
import { expect } from 'chai';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { Agent as UndiciAgent, request } from 'undici';
import {
  callAgent,
  CLI,
  makeDataDir,
  removeDataDir,
  startAgent,
  type AgentProcess,
} from '../fixtures/agent.js';
import { eventually } from '../fixtures/eventually.js';
import { createTestPki, type TestPki } from '../fixtures/tls.js';

const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
const SPEC = JSON.stringify({ command: 'id', behavior: { exit: 'standby' } });

interface RawReply {
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/** One request on its own connection, headers exactly as given; bounded by 10 s. */
function raw(agent: AgentProcess, head: readonly string[], body = ''): Promise<RawReply> {
  const { port } = new URL(agent.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const at = text.indexOf('\r\n\r\n');
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0),
        head: text.slice(0, at).toLowerCase(),
        body: text.slice(at + 4),
      });
    });
    // write, not end: a half-closed connection may be closed before a slower handler answers.
    socket.write(
      [...head, `content-length: ${Buffer.byteLength(body)}`, 'connection: close', '', body].join('\r\n'),
    );
  });
}

describe('agent HTTP surface, safe by default (real agent process)', function () {
  this.timeout(90_000);
  const dataDirs: string[] = [];
  const agents: AgentProcess[] = [];
  const launch = async (options: Parameters<typeof startAgent>[0] = {}) => {
    const dataDir = options.dataDir ?? (await makeDataDir());
    if (!dataDirs.includes(dataDir)) dataDirs.push(dataDir);
    const agent = await startAgent({ ...options, dataDir });
    agents.push(agent);
    return agent;
  };
  afterEach(async function () {
    for (const agent of agents.splice(0)) await agent.stop('SIGTERM');
  });
  after(async function () {
    for (const dir of dataDirs) await removeDataDir(dir);
  });

  describe('with no token configured', function () {
    let agent: AgentProcess;
    beforeEach(async function () {
      agent = await launch({ token: null });
    });

    it('generates a token only its user can read, and reuses it after a restart', async function () {
      const file = join(agent.dataDir, 'api-token');
      expect((await stat(file)).mode & 0o777).to.equal(0o600);
      expect((await stat(agent.dataDir)).mode & 0o777).to.equal(0o700);
      expect(agent.token).to.match(/^[A-Za-z0-9_-]{43}$/);
      expect(agent.output()).to.not.contain(agent.token);
      expect(agent.output()).to.contain('generated the API token');
      const first = agent.token;
      await agent.stop('SIGTERM');
      agents.splice(agents.indexOf(agent), 1);
      const again = await launch({ dataDir: agent.dataDir, token: null });
      expect(again.token).to.equal(first);
      expect((await callAgent(again, 'GET', '/appmesh/applications')).status).to.equal(200);
    });

    it('gives another local user (nobody) neither the token nor a way to run a command', async function () {
      // Even with the data dir opened up, the file's own mode keeps the token private.
      await chmod(agent.dataDir, 0o755);
      const cat = await execa('setpriv', [...NOBODY, 'cat', join(agent.dataDir, 'api-token')], {
        reject: false,
      });
      expect(cat.exitCode).to.not.equal(0);
      expect(cat.stderr).to.contain('Permission denied');
      const put = await execa(
        'setpriv',
        [
          ...NOBODY,
          'curl',
          '-s',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          '-X',
          'PUT',
          '--data',
          SPEC,
          `${agent.url}/appmesh/app/x`,
        ],
        { reject: false },
      );
      expect(put.stdout).to.equal('401');
      for (const path of ['/appmesh/applications', '/appmesh/app/x/output', '/appmesh/events']) {
        const get = await execa(
          'setpriv',
          [
            ...NOBODY,
            'curl',
            '-s',
            '-m',
            '5',
            '-o',
            '/dev/null',
            '-w',
            '%{http_code}',
            `${agent.url}${path}`,
          ],
          { reject: false },
        );
        expect(get.stdout, path).to.equal('401');
      }
      // The CLI run as nobody finds no token (the agent's file is not readable) and says what to pass.
      const cli = await execa('setpriv', [...NOBODY, 'node', CLI, 'get', 'apps', '--agent', agent.url], {
        reject: false,
        env: { APPMESH_DATA_DIR: agent.dataDir, HOME: '/nonexistent' },
      });
      expect(cli.exitCode).to.equal(1);
      expect(cli.stderr).to.contain('401');
      expect(cli.stderr).to.contain('--agent-token-file');
      expect(JSON.parse((await callAgent(agent, 'GET', '/appmesh/applications')).text)).to.deep.equal([]);
    });

    it('lets the CLI on the same host find the token in the data dir', async function () {
      const cli = await execa('node', [CLI, 'get', 'apps', '-o', 'json', '--agent', agent.url], {
        reject: false,
        env: { APPMESH_DATA_DIR: agent.dataDir },
      });
      expect(cli.exitCode, cli.stderr).to.equal(0);
      expect(JSON.parse(cli.stdout)).to.deep.equal([]);
    });

    it('keeps probes and app health open, with no secret in them', async function () {
      expect(
        (await callAgent(agent, 'PUT', '/appmesh/app/probe', { command: 'sleep 4401' })).status,
      ).to.equal(201);
      const none = { authorization: '' };
      for (const path of ['/healthz', '/readyz', '/metrics']) {
        const reply = await callAgent(agent, 'GET', path, undefined, none);
        expect(reply.status, path).to.equal(200);
        expect(reply.text, path).to.not.contain(agent.token);
      }
      await eventually('probe healthy', async () => {
        const health = await callAgent(agent, 'GET', '/appmesh/app/probe/health', undefined, none);
        return health.status === 200 && health.text === 'healthy\n';
      });
      expect((await callAgent(agent, 'GET', '/appmesh/app/probe', undefined, none)).status).to.equal(401);
      expect((await callAgent(agent, 'DELETE', '/appmesh/app/probe')).status).to.equal(200);
    });

    it('matches the Bearer scheme case-insensitively', async function () {
      for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
        const reply = await callAgent(agent, 'GET', '/appmesh/applications', undefined, {
          authorization: `${scheme} ${agent.token}`,
        });
        expect(reply.status, scheme).to.equal(200);
      }
      const basic = await callAgent(agent, 'GET', '/appmesh/applications', undefined, {
        authorization: `Basic ${agent.token}`,
      });
      expect(basic.status).to.equal(401);
    });
  });

  describe('requests a web page can make', function () {
    let agent: AgentProcess;
    let host: string;
    // One agent for the whole group (not `launch`, whose agents end after each test).
    before(async function () {
      const dataDir = await makeDataDir();
      dataDirs.push(dataDir);
      agent = await startAgent({ dataDir });
      host = new URL(agent.url).host;
      const put = await callAgent(agent, 'PUT', '/appmesh/app/target', { command: 'sleep 4402' });
      expect(put.status, put.text).to.equal(201);
    });
    after(async function () {
      await agent.stop('SIGTERM');
    });

    it('refuses a DNS-rebinding PUT (foreign Host and Origin, text/plain) with 421 and runs nothing', async function () {
      const port = new URL(agent.url).port;
      const reply = await raw(
        agent,
        [
          'PUT /appmesh/app/x HTTP/1.1',
          `host: attacker.example:${port}`,
          `origin: http://attacker.example:${port}`,
          'content-type: text/plain',
          `authorization: Bearer ${agent.token}`,
        ],
        SPEC,
      );
      expect(reply.status).to.equal(421);
      expect(reply.body).to.contain('does not answer to the host name');
      const get = await callAgent(agent, 'GET', '/appmesh/app/x');
      expect(get.status).to.equal(404);
    });

    it('refuses cross-origin state changes with 403, even with the token', async function () {
      const restart = await raw(
        agent,
        [
          'POST /appmesh/app/target/restart HTTP/1.1',
          `host: ${host}`,
          'origin: http://attacker.example',
          'content-type: text/plain',
          `authorization: Bearer ${agent.token}`,
        ],
        '',
      );
      expect(restart.status).to.equal(403);
      expect(restart.body).to.contain('cross-origin request refused');
      const put = await raw(
        agent,
        [
          'PUT /appmesh/app/y HTTP/1.1',
          `host: ${host}`,
          'origin: null',
          'content-type: application/json',
          `authorization: Bearer ${agent.token}`,
        ],
        SPEC,
      );
      expect(put.status).to.equal(403);
      // The agent's own page (same origin) is let through.
      const own = await raw(agent, [
        'POST /appmesh/app/target/restart HTTP/1.1',
        `host: ${host}`,
        `origin: http://${host}`,
        `authorization: Bearer ${agent.token}`,
      ]);
      expect(own.status, own.body).to.equal(200);
    });

    it('refuses a POST without the token even as a simple request (401)', async function () {
      const reply = await raw(
        agent,
        ['POST /appmesh/app/target/restart HTTP/1.1', `host: ${host}`, 'content-type: text/plain'],
        '',
      );
      expect(reply.status).to.equal(401);
    });

    it('answers 415 to bodies that are not application/json, and parses nothing', async function () {
      for (const type of [
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
      ]) {
        const reply = await callAgent(agent, 'PUT', '/appmesh/app/z', SPEC, { 'content-type': type });
        expect(reply.status, type).to.equal(415);
        expect(reply.text).to.contain('application/json');
      }
      const untyped = await raw(
        agent,
        ['PUT /appmesh/app/z HTTP/1.1', `host: ${host}`, `authorization: Bearer ${agent.token}`],
        SPEC,
      );
      expect(untyped.status).to.equal(415);
      const plainEmptyPost = await raw(
        agent,
        [
          'POST /appmesh/app/target/disable HTTP/1.1',
          `host: ${host}`,
          'content-type: text/plain',
          `authorization: Bearer ${agent.token}`,
        ],
        '',
      );
      expect(plainEmptyPost.status).to.equal(415);
      // What the CLI and the UI send for actions: an empty POST with no content type.
      expect((await callAgent(agent, 'POST', '/appmesh/app/target/enable')).status).to.equal(200);
      expect((await callAgent(agent, 'GET', '/appmesh/app/z')).status).to.equal(404);
    });

    it('grants no CORS to OPTIONS (no Access-Control-* header)', async function () {
      for (const path of ['/appmesh/app/target', '/appmesh/applications', '/healthz', '/nowhere']) {
        const reply = await raw(agent, [
          `OPTIONS ${path} HTTP/1.1`,
          `host: ${host}`,
          'origin: http://attacker.example',
          'access-control-request-method: PUT',
          'access-control-request-headers: authorization, content-type',
        ]);
        expect(reply.status, path).to.be.oneOf([404, 405]);
        expect(reply.head, path).to.not.contain('access-control-');
      }
    });

    it('answers 400, not 500, to JSON nested 5,000 deep', async function () {
      const deep = `{"command":"true","metadata":${'['.repeat(5000)}${']'.repeat(5000)}}`;
      const reply = await callAgent(agent, 'PUT', '/appmesh/app/deep', deep);
      expect(reply.status).to.equal(400);
      expect(JSON.parse(reply.text)).to.deep.equal({
        error: 'request body nests arrays/objects more than 64 deep',
      });
    });
  });

  describe('start-up refusals', function () {
    it('refuses an empty token file, naming it', async function () {
      const dataDir = await makeDataDir();
      dataDirs.push(dataDir);
      const file = join(dataDir, 'empty-token');
      await writeFile(file, '\n');
      const result = await execa(
        'node',
        [CLI, 'agent', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--api-token-file', file],
        { reject: false, timeout: 20_000 },
      );
      expect(result.exitCode).to.equal(1);
      expect(result.stderr).to.contain(`apiTokenFile ${file} is empty`);
    });

    it('refuses an empty generated token file instead of turning authentication off', async function () {
      const dataDir = await makeDataDir();
      dataDirs.push(dataDir);
      await writeFile(join(dataDir, 'api-token'), '', { mode: 0o600 });
      const result = await execa('node', [CLI, 'agent', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
        reject: false,
        timeout: 20_000,
      });
      expect(result.exitCode).to.equal(1);
      expect(result.stderr).to.contain(`${join(dataDir, 'api-token')} is empty`);
    });

    it('refuses --listen 0.0.0.0 without TLS, before binding anything', async function () {
      const dataDir = await makeDataDir();
      dataDirs.push(dataDir);
      const result = await execa('node', [CLI, 'agent', '--listen', '0.0.0.0:0', '--data-dir', dataDir], {
        reject: false,
        timeout: 20_000,
      });
      expect(result.exitCode).to.equal(1);
      expect(result.stderr).to.contain('is beyond loopback, so the API needs TLS');
      expect(result.stdout + result.stderr).to.not.contain('"listening"');
    });
  });

  describe('over TLS', function () {
    let pki: TestPki;
    before(async function () {
      pki = await createTestPki();
    });
    after(async function () {
      await pki.remove();
    });

    it('serves the API over HTTPS with --tls-cert/--tls-key', async function () {
      const agent = await launch({
        args: ['--tls-cert', pki.server.certFile, '--tls-key', pki.server.keyFile],
        tlsCaFile: pki.caFile,
      });
      expect(agent.url).to.match(/^https:\/\//);
      const dispatcher = new UndiciAgent({ connect: { ca: await readFile(pki.caFile, 'utf8') } });
      try {
        const response = await request(`${agent.url}/appmesh/applications`, {
          dispatcher,
          headers: { authorization: `Bearer ${agent.token}` },
        });
        expect(response.statusCode).to.equal(200);
        expect(await response.body.json()).to.deep.equal([]);
      } finally {
        await dispatcher.close();
      }
      const plain = await request(agent.url.replace('https:', 'http:') + '/healthz').then(
        async (r) => {
          await r.body.text();
          return r.statusCode;
        },
        () => 'refused',
      );
      expect(plain).to.not.equal(200);
    });
  });

  describe('event streams', function () {
    const sockets: Socket[] = [];
    afterEach(function () {
      for (const socket of sockets.splice(0)) socket.destroy();
    });

    /** Opens `GET /appmesh/events` and resolves with the status once the head arrived; never reads on. */
    function openStream(agent: AgentProcess, read: boolean): Promise<{ status: number; socket: Socket }> {
      const { port } = new URL(agent.url);
      return new Promise((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1');
        sockets.push(socket);
        let head = '';
        const onData = (chunk: Buffer) => {
          head += chunk.toString('utf8');
          if (!head.includes('\r\n')) return;
          if (!read) {
            socket.off('data', onData);
            socket.pause();
          }
          resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), socket });
        };
        socket.on('data', onData);
        socket.on('error', reject);
        socket.setTimeout(10_000, () => reject(new Error('no answer within 10 s')));
        socket.write(
          `GET /appmesh/events HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: Bearer ${agent.token}\r\n\r\n`,
        );
      });
    }

    it('caps concurrent streams at 32 (the next one gets 503)', async function () {
      const agent = await launch();
      for (let i = 0; i < 32; i++)
        expect((await openStream(agent, true)).status, `stream ${i}`).to.equal(200);
      expect((await openStream(agent, true)).status).to.equal(503);
      sockets.splice(0, 1)[0]?.destroy();
      await eventually('a slot is free again', async () => (await openStream(agent, true)).status === 200);
    });

    it('drops a client that never reads once 1 MiB is queued for it, and keeps serving', async function () {
      const agent = await launch();
      const { socket } = await openStream(agent, false);
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('end', () => socket.destroy());
      // Each PUT changes the app list; each apps event carries ~400 KB of metadata.
      const bulk = 'x'.repeat(200_000);
      const started = Date.now();
      let puts = 0;
      while (!agent.output().includes('dropped an event-stream client') && puts < 150) {
        const put = await callAgent(agent, 'PUT', `/appmesh/app/bulk-${puts % 2}`, {
          command: 'sleep 4403',
          metadata: { bulk, n: puts },
          status: 0,
        });
        expect(put.status, put.text).to.be.oneOf([200, 201]);
        puts++;
        await new Promise((r) => setTimeout(r, 110)); // past the 100 ms event throttle
        if (Date.now() - started > 45_000) break;
      }
      expect(agent.output()).to.contain('dropped an event-stream client that does not read');
      socket.resume(); // read what the kernel holds; the agent's end of the connection is gone
      await closed;
      console.log(`      dropped after ${puts} changes, ${Date.now() - started} ms`);
      expect((await callAgent(agent, 'GET', '/healthz')).status).to.equal(200);
      expect((await openStream(agent, true)).status).to.equal(200);
    });
  });
});
