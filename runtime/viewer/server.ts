/**
 * The viewer's HTTP server: the page, its bundle, and the traces it shows, on loopback by
 * default. It serves a fixed table of routes and nothing from the file system by path, so no
 * request (`..`, encoded slashes, absolute paths) can reach another file: anything not in the
 * table is 404.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { viewerAssets, type ViewerAssets } from './bundle.ts';
import type { TraceSource } from './TraceSource.ts';

export const LOOPBACK = '127.0.0.1';

export interface ViewServer {
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

export interface ViewServerOptions {
  sources: readonly TraceSource[];
  host?: string;
  /** 0 (the default) takes any free port. */
  port?: number;
}

// The page may load only what this server sends: the policy makes "works offline" a property of
// the page, not a promise (a stray CDN link fails in every browser test).
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'";

const SOURCE_ID = /^[a-z]$/;

export async function startViewServer(options: ViewServerOptions): Promise<ViewServer> {
  const assets = await viewerAssets();
  const host = options.host ?? LOOPBACK;
  const sources = new Map(options.sources.map((s) => [s.id, s]));
  const streams = new Set<ServerResponse>();
  const server = createServer((request, response) => {
    try {
      route(request, response, assets, sources, streams);
    } catch {
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else response.end();
    }
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/`,
    host,
    port,
    close: () =>
      new Promise<void>((resolveClose) => {
        for (const s of sources.values()) s.stop();
        for (const r of streams) r.end();
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}

function route(request: IncomingMessage, response: ServerResponse, assets: ViewerAssets, sources: Map<string, TraceSource>, streams: Set<ServerResponse>): void {
  if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  const raw = request.url ?? '/';
  const query = raw.indexOf('?');
  const path = query >= 0 ? raw.slice(0, query) : raw;
  switch (path) {
    case '/':
    case '/index.html':
      return send(response, 200, 'text/html; charset=utf-8', assets.html);
    case '/app.js':
      return send(response, 200, 'text/javascript; charset=utf-8', assets.js);
    case '/app.css':
      return send(response, 200, 'text/css; charset=utf-8', assets.css);
    case '/favicon.ico':
      // The page declares no icon; answering keeps browsers' automatic request out of the error console.
      response.writeHead(204, securityHeaders());
      return void response.end();
    case '/api/session':
      return send(
        response,
        200,
        'application/json; charset=utf-8',
        JSON.stringify({ traces: [...sources.values()].map((s) => ({ id: s.id, label: s.label, live: s.live })) }),
      );
  }
  const api = /^\/api\/(trace|live)\/([^/]+)$/.exec(path);
  const source = api && SOURCE_ID.test(api[2]) ? sources.get(api[2]) : undefined;
  if (!api || !source) return send(response, 404, 'text/plain; charset=utf-8', 'not found\n');
  if (api[1] === 'trace') return send(response, 200, 'application/x-ndjson; charset=utf-8', source.lines.join('\n') + (source.lines.length ? '\n' : ''));
  streamLive(request, response, source, streams);
}

/** Server-sent events: each line as a message, then `end` (with the problem, if a followed file went bad). */
function streamLive(request: IncomingMessage, response: ServerResponse, source: TraceSource, streams: Set<ServerResponse>): void {
  response.writeHead(200, { ...securityHeaders(), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
  streams.add(response);
  const unfollow = source.follow({
    line: (json) => response.write(`data: ${json}\n\n`),
    end: () => {
      response.write(`event: end\ndata: ${JSON.stringify({ problem: source.problem })}\n\n`);
      response.end();
    },
  });
  request.on('close', () => {
    unfollow();
    streams.delete(response);
  });
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { ...securityHeaders(), 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}

function securityHeaders(): Record<string, string> {
  return { 'content-security-policy': CONTENT_SECURITY_POLICY, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
}

/** Whether an address is loopback-only (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
