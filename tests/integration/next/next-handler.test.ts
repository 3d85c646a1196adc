import { createServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Server as SocketIoServer } from 'socket.io';
import { io as connectSocketIo } from 'socket.io-client';
import type { Socket as ClientSocket } from 'socket.io-client';
import { createNextRequestHandler } from '../../../coordinator/http/next-handler.ts';
import type { NextRequestHandler } from '../../../coordinator/http/next-handler.ts';
import { ensureNextBuild } from '../../../scripts/ensure-next-build.ts';
import { statusSchema } from '../../../app/status-schema.ts';
import { STATUS_FIXTURE } from './status-fixture.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const PROCESS_ERROR_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

describe('Next.js served from our own http server next to socket.io', () => {
  let nextApp: NextRequestHandler | undefined;
  let server: HttpServer;
  let io: SocketIoServer;
  let baseUrl: string;
  let upgradeListenersBeforeNext: number;
  let processListenersBeforeNext: Record<string, number>;
  const buildLog: string[] = [];

  const route = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url === '/api/v1/status') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(STATUS_FIXTURE));
      return;
    }
    if (!nextApp) {
      res.statusCode = 503;
      res.end('next not ready');
      return;
    }
    void nextApp.handle(req, res);
  };

  beforeAll(async () => {
    await ensureNextBuild(repoRoot, (line) => buildLog.push(line));
    server = createServer(route);
    io = new SocketIoServer(server);
    io.on('connection', (socket) => {
      socket.on('add-one', (value: number, ack: (result: number) => void) => ack(value + 1));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    baseUrl = `http://127.0.0.1:${port}`;
    upgradeListenersBeforeNext = server.listenerCount('upgrade');
    processListenersBeforeNext = Object.fromEntries(PROCESS_ERROR_EVENTS.map((e) => [e, process.listenerCount(e)]));
    nextApp = await createNextRequestHandler({ dir: repoRoot, port, hostname: '127.0.0.1' });
  }, 300_000);

  afterAll(async () => {
    await nextApp?.close();
    // io.close() also closes the http server it is attached to.
    await new Promise<void>((resolve) => {
      void io.close(() => resolve());
    });
  });

  it('serves the dashboard at / as HTML with the app title', async () => {
    const response = await fetch(`${baseUrl}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('<title>crowdtrain</title>');
    expect(html).toMatch(/<h1[^>]*>crowdtrain<\/h1>/);
    expect(html).toContain('Connecting to the coordinator');
  });

  it('serves the compiled Tailwind stylesheet the page links to', async () => {
    const html = await (await fetch(`${baseUrl}/`)).text();
    const cssPath = /href="(\/_next\/static\/[^"]+\.css)"/.exec(html)?.[1];
    expect(cssPath, 'no stylesheet link in the page').toBeDefined();
    const response = await fetch(`${baseUrl}${cssPath ?? ''}`);
    expect(response.status).toBe(200);
    const css = await response.text();
    // Utilities used by the page are generated, so Tailwind ran over app/.
    expect(css).toMatch(/\.bg-slate-100\s*\{/);
    expect(css).toContain('.rounded-xl');
  });

  it('answers 404 for unknown pages and leaves /api/v1/status to our own route', async () => {
    expect((await fetch(`${baseUrl}/no-such-page`)).status).toBe(404);
    const status = statusSchema.parse(await (await fetch(`${baseUrl}/api/v1/status`)).json());
    expect(status.run?.name).toBe('mnist-mlp-ddp');
  });

  it('does not attach an upgrade listener to our server, and socket.io websockets still connect', async () => {
    await fetch(`${baseUrl}/`); // Next hooks upgrades on its first request, if it is allowed to.
    expect(server.listenerCount('upgrade')).toBe(upgradeListenersBeforeNext);

    const client: ClientSocket = connectSocketIo(baseUrl, { transports: ['websocket'], reconnection: false, forceNew: true });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', resolve);
        client.once('connect_error', reject);
      });
      expect(client.io.engine.transport.name).toBe('websocket');
      const result = (await client.timeout(10_000).emitWithAck('add-one', 41)) as number;
      expect(result).toBe(42);
    } finally {
      client.disconnect();
    }
  });

  it('leaves no log-only uncaughtException/unhandledRejection listeners of Next on the process', async () => {
    await fetch(`${baseUrl}/`);
    const after = Object.fromEntries(PROCESS_ERROR_EVENTS.map((e) => [e, process.listenerCount(e)]));
    expect(after).toEqual(processListenersBeforeNext);
  });
});
