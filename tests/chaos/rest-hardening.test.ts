import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coordinator } from '../../coordinator/coordinator.ts';
import { MAX_JSON_DEPTH } from '../../coordinator/http/http-io.ts';
import { SECURITY_HEADERS, checkHost, hostNameOf, servedHostNames } from '../../coordinator/http/request-guard.ts';
import { JOIN_TOKEN_HINT } from '../../coordinator/http/routes/status.ts';
import { MAX_METRIC_STEP, MAX_PARAMS_PER_BATCH } from '../../coordinator/http/routes/runs.ts';
import { contributeUrl, joinBanner, joinBaseUrl, lanIPv4 } from '../../coordinator/join-banner.ts';
import { ApiErrorSchema, CreatedRunSchema, MetricHistorySchema, RunListSchema } from '../../core/api/index.ts';
import { JOIN_TOKEN_PLACEHOLDER, StatusSchema } from '../../core/api/status.ts';
import { openDatabase, type Database } from '../../prisma/db.ts';
import { dropTestDatabase, testDatabaseUrl } from '../integration/support/harness.ts';
import { startApiTestCoordinator, type ApiTestCoordinator } from '../integration/api/api-coordinator.ts';

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  return ApiErrorSchema.parse(await res.json()).error;
}

/** A GET with an explicit Host header (fetch may not send a made-up one). */
function getWithHost(baseUrl: string, pathname: string, host: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname: u.hostname, port: u.port, path: pathname, method: 'GET', headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('REST hardening (issue 15: items 12-15)', () => {
  let t: ApiTestCoordinator;
  let runId: string;

  beforeAll(async () => {
    t = await startApiTestCoordinator();
    const created = CreatedRunSchema.parse(await (await t.call('POST', '/api/v1/runs/external', { admin: true, body: { name: 'hardening-ext' } })).json());
    runId = created.run.id;
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('answers params nested 100k deep with 400 naming the depth limit, and the coordinator keeps serving', async () => {
    const deep = `{"params":{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`;
    const res = await t.call('POST', `/api/v1/runs/${runId}/log`, { admin: true, body: deep });
    expect(res.status).toBe(400);
    const err = await errorOf(res);
    expect(err.code).toBe('INVALID_MESSAGE');
    expect(err.message).toContain(`limit of ${MAX_JSON_DEPTH} levels`);
    // Also on any other JSON body, and brackets inside strings do not count.
    const other = await t.call('POST', '/api/v1/models', { admin: true, body: `{"name":"m","x":${'{"a":'.repeat(200)}1${'}'.repeat(200)}}` });
    expect(other.status).toBe(400);
    expect((await errorOf(other)).message).toContain(`${MAX_JSON_DEPTH} levels`);
    const inString = await t.call('POST', `/api/v1/runs/${runId}/log`, { admin: true, body: { params: { brackets: '['.repeat(1000) } } });
    expect(inString.status).toBe(200);
    expect((await t.call('GET', '/healthz')).status).toBe(200);
  });

  it('bounds the params of one request (after flattening), with 400 naming the limit', async () => {
    const many = Object.fromEntries(Array.from({ length: MAX_PARAMS_PER_BATCH + 1 }, (_, i) => [`p${i}`, i]));
    const res = await t.call('POST', `/api/v1/runs/${runId}/log`, { admin: true, body: { params: { group: many } } });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toContain(`limit of ${MAX_PARAMS_PER_BATCH} per request`);
    const external = await t.call('POST', '/api/v1/runs/external', { admin: true, body: { name: 'too-many', params: many } });
    expect(external.status).toBe(400);
    expect((await errorOf(external)).message).toContain(`${MAX_PARAMS_PER_BATCH}`);
  });

  it('rejects a metric value that parses to ±Infinity (±1.8e308) with 400 naming the key and step, and stores nothing', async () => {
    for (const literal of ['1.8e308', '-1.8e308']) {
      const body = `{"metrics":[{"key":"ok_metric","step":1,"value":0.5},{"key":"huge_loss","step":7,"value":${literal}}]}`;
      const res = await t.call('POST', `/api/v1/runs/${runId}/log`, { admin: true, body });
      expect(res.status).toBe(400);
      const err = await errorOf(res);
      expect(err.code).toBe('NON_FINITE');
      expect(err.message).toContain('metric "huge_loss" at step 7');
      expect(err.message).toContain('finite');
    }
    const history = MetricHistorySchema.parse(await (await t.call('GET', `/api/v1/runs/${runId}/metrics/ok_metric`)).json());
    expect(history.points).toEqual([]);
  });

  it('refuses a step of 2^31 (the Int column), accepts 2^31 - 1', async () => {
    const over = await t.call('POST', `/api/v1/runs/${runId}/log`, { admin: true, body: { metrics: [{ key: 'big_step', step: 2 ** 31, value: 1 }] } });
    expect(over.status).toBe(400);
    expect((await errorOf(over)).message).toContain(`metrics.0.step: step must be <= ${MAX_METRIC_STEP}`);
    const max = await t.call('POST', `/api/v1/runs/${runId}/log`, { admin: true, body: { metrics: [{ key: 'big_step', step: MAX_METRIC_STEP, value: 1 }] } });
    expect(max.status).toBe(200);
  });

  it('searches run names for % and _ literally, not as LIKE wildcards', async () => {
    for (const name of ['100%-done', 'with_underscore', 'plainname', 'back\\slash']) {
      expect((await t.call('POST', '/api/v1/runs/external', { admin: true, body: { name, experiment: 'like-escape' } })).status).toBe(201);
    }
    const names = async (q: string) =>
      RunListSchema.parse(await (await t.call('GET', `/api/v1/runs?experiment=like-escape&q=${encodeURIComponent(q)}`)).json()).runs.map((r) => r.name);
    expect(await names('%')).toEqual(['100%-done']);
    expect(await names('_')).toEqual(['with_underscore']);
    expect(await names('0%-')).toEqual(['100%-done']);
    expect(await names('h_u')).toEqual(['with_underscore']);
    expect(await names('%%')).toEqual([]);
    expect(await names('\\')).toEqual(['back\\slash']);
    const all = RunListSchema.parse(await (await t.call('GET', '/api/v1/runs?q=%25')).json());
    expect(all.total).toBe(1);
  });

  it('verifies a checkpoint file against its sha256 before serving it: 409 CHECKPOINT_INVALID for a corrupt one, 410 when gone', async () => {
    const dir = path.join(t.dataDir, 'checkpoints', runId);
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, 'step-5.ckpt');
    const bytes = randomBytes(300_000);
    await writeFile(file, bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await t.coordinator.store.addCheckpoint({ runId, step: 5, path: file, sha256, sizeBytes: bytes.length });

    const good = await t.call('GET', `/api/v1/runs/${runId}/checkpoints/5/download`);
    expect(good.status).toBe(200);
    expect(good.headers.get('x-checkpoint-sha256')).toBe(sha256);
    expect(createHash('sha256').update(Buffer.from(await good.arrayBuffer())).digest('hex')).toBe(sha256);

    const corrupt = Buffer.from(bytes);
    corrupt[1234] = (corrupt[1234] ?? 0) ^ 0xff;
    await writeFile(file, corrupt);
    for (const method of ['GET', 'HEAD']) {
      const bad = await t.call(method, `/api/v1/runs/${runId}/checkpoints/5/download`);
      expect(bad.status).toBe(409);
      if (method === 'GET') {
        const err = await errorOf(bad);
        expect(err.code).toBe('CHECKPOINT_INVALID');
        expect(err.message).toContain(sha256);
        expect(err.message).toContain('not served');
      }
    }

    await rm(file);
    const gone = await t.call('GET', `/api/v1/runs/${runId}/checkpoints/5/download`);
    expect(gone.status).toBe(410);
    expect((await errorOf(gone)).code).toBe('CHECKPOINT_INVALID');
  });

  it('sends the security headers on every API response (JSON, errors, /healthz)', async () => {
    for (const [method, pathname] of [
      ['GET', '/api/v1/status'],
      ['GET', '/api/v1/no-such-route'],
      ['POST', `/api/v1/runs/${runId}/log`],
      ['GET', '/healthz'],
    ] as const) {
      const res = await t.call(method, pathname);
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(res.headers.get(name), `${name} on ${method} ${pathname}`).toBe(value);
    }
    expect(SECURITY_HEADERS['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(SECURITY_HEADERS['content-security-policy']).toContain("'wasm-unsafe-eval'");
  });

  it('withholds the worker token in GET /api/v1/status without the admin token, and shows it with it', async () => {
    const anonymous = StatusSchema.parse(await (await t.call('GET', '/api/v1/status')).json());
    expect(anonymous.join.contributePath).toBeNull();
    expect(anonymous.join.command).toBe(`npm run worker -- --url ${t.baseUrl} --token ${JOIN_TOKEN_PLACEHOLDER}`);
    expect(anonymous.join.tokenHint).toBe(JOIN_TOKEN_HINT);
    expect(JSON.stringify(anonymous)).not.toContain(t.coordinator.workerToken);

    const wrong = await t.call('GET', '/api/v1/status', { admin: 'Bearer not-the-admin-token' });
    expect(wrong.status).toBe(200);
    expect(JSON.stringify(await wrong.json())).not.toContain(t.coordinator.workerToken);

    const admin = StatusSchema.parse(await (await t.call('GET', '/api/v1/status', { admin: true })).json());
    expect(admin.join.command).toBe(`npm run worker -- --url ${t.baseUrl} --token ${t.coordinator.workerToken}`);
    expect(admin.join.contributePath).toBe(`/contribute?token=${encodeURIComponent(t.coordinator.workerToken)}`);
    expect(admin.join.tokenHint).toBeNull();
  });

  it('answers a request whose Host is not a name the coordinator serves with 421 and a JSON error (DNS rebinding)', async () => {
    const port = new URL(t.baseUrl).port;
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.evil.example:${port}`]) {
      for (const pathname of ['/api/v1/status', '/healthz', '/']) {
        const res = await getWithHost(t.baseUrl, pathname, host);
        expect(res.status, `${host} ${pathname}`).toBe(421);
        expect(res.headers['content-type']).toMatch(/application\/json/);
        const err = ApiErrorSchema.parse(JSON.parse(res.body)).error;
        expect(err.message).toContain(`does not serve the host "${host}"`);
        expect(res.body).not.toContain(t.coordinator.workerToken);
      }
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`]) {
      expect((await getWithHost(t.baseUrl, '/api/v1/status', host)).status, host).toBe(200);
    }
  });
});

describe('--public-join and --allowed-hosts', () => {
  let coordinator: Coordinator;
  let db: Database;
  let dataDir: string;
  const workerToken = randomBytes(18).toString('base64url');

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-public-join-'));
    db = await openDatabase({ url: await testDatabaseUrl(dataDir) });
    coordinator = await Coordinator.start({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      db,
      workerToken,
      adminToken: randomBytes(24).toString('base64url'),
      publicJoin: true,
      allowedHosts: ['train.example.org'],
    });
  });
  afterAll(async () => {
    await coordinator?.close();
    await db?.close();
    if (dataDir) {
      await dropTestDatabase(dataDir);
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('shows the join token to every reader of a --public-join coordinator', async () => {
    const status = StatusSchema.parse(await (await fetch(`${coordinator.url}/api/v1/status`)).json());
    expect(status.join.command).toBe(`npm run worker -- --url ${coordinator.url} --token ${workerToken}`);
    expect(status.join.contributePath).toBe(`/contribute?token=${encodeURIComponent(workerToken)}`);
    expect(status.join.tokenHint).toBeNull();
  });

  it('serves the --allowed-hosts names besides loopback, and still refuses others', async () => {
    expect((await getWithHost(coordinator.url, '/healthz', 'train.example.org')).status).toBe(200);
    expect((await getWithHost(coordinator.url, '/healthz', 'Train.Example.Org.:443')).status).toBe(200);
    expect((await getWithHost(coordinator.url, '/healthz', 'other.example.org')).status).toBe(421);
  });
});

describe('host names and the join banner (pure)', () => {
  it('parses Host headers and lists the served names; * allows any; 0.0.0.0 adds the local addresses', () => {
    expect(hostNameOf('Example.COM:3000')).toBe('example.com');
    expect(hostNameOf('[::1]:3000')).toBe('::1');
    expect(hostNameOf(undefined)).toBeNull();
    expect(servedHostNames('10.1.2.3', ['a.example'])).toEqual(expect.arrayContaining(['127.0.0.1', 'localhost', '::1', '10.1.2.3', 'a.example']));
    const all = servedHostNames('0.0.0.0');
    const lan = lanIPv4();
    if (lan !== null) expect(all).toContain(lan);
    expect(all).toContain(os.hostname().toLowerCase());
    const req = { headers: { host: 'anything.example' } } as unknown as http.IncomingMessage;
    expect(checkHost(req, ['*']).ok).toBe(true);
    expect(checkHost(req, ['localhost']).ok).toBe(false);
  });

  it('prints the worker command, the browser link with a QR code, and the LAN address for 0.0.0.0', async () => {
    expect(lanIPv4({ lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true, netmask: '', mac: '', cidr: null }], eth0: [{ address: '192.168.7.9', family: 'IPv4', internal: false, netmask: '', mac: '', cidr: null }] })).toBe('192.168.7.9');
    expect(joinBaseUrl('http://127.0.0.1:3000', '0.0.0.0', '192.168.7.9')).toBe('http://192.168.7.9:3000');
    expect(joinBaseUrl('http://127.0.0.1:3000', '127.0.0.1', '192.168.7.9')).toBe('http://127.0.0.1:3000');
    expect(joinBaseUrl('http://127.0.0.1:3000', '0.0.0.0', null)).toBe('http://127.0.0.1:3000');
    expect(contributeUrl('http://h:1', 'a+b')).toBe('http://h:1/contribute?token=a%2Bb');
    const lines = await joinBanner({ localUrl: 'http://127.0.0.1:3000', boundHost: '0.0.0.0', token: 'tok123', publicJoin: false, lan: '192.168.7.9' });
    expect(lines[0]).toBe('  join with:   npm run worker -- --url http://192.168.7.9:3000 --token tok123');
    expect(lines[1]).toBe('  browser tab: http://192.168.7.9:3000/contribute?token=tok123');
    expect(lines.slice(2, -1).length).toBeGreaterThan(10); // the QR code
    expect(lines.slice(2, -1).join('\n')).toMatch(/[▀▄█]/);
    expect(lines.at(-1)).toContain('only with the admin token');
  });
});
