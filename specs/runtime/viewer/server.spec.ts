/**
 * The viewer's server without a browser: where it listens, what it serves (and with which
 * content types), that no request path reaches a file outside its route table, that the page's
 * bundle loads nothing from the network, and how `drainlab view` reports a malformed trace file.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openView, type ViewServer } from '../../../runtime/viewer/openView.ts';
import type { TraceLine } from '../../../runtime/trace/TraceFile.ts';

const REPO = resolve(import.meta.dirname, '../../..');
const BIN = join(REPO, 'bin/drainlab.js');
const HEADLINE = 'two-external-snapshots-without-drains';

interface RawResponse {
  status: number;
  type: string;
  body: string;
}

/** A GET with the path sent exactly as given (fetch and URL would normalise `..` and `%2e`). */
function rawGet(port: number, path: string, host = '127.0.0.1'): Promise<RawResponse> {
  return new Promise((done, fail) => {
    const req = request({ host, port, method: 'GET', path, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => done({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', fail);
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path}: no answer within 10 s`)));
    req.end();
  });
}

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
    socket.setTimeout(3_000, () => finish(false));
  });
}

function parseLines(text: string): TraceLine[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as TraceLine);
}

describe('the viewer server', () => {
  let server: ViewServer;

  beforeAll(async () => {
    server = await openView({ input: HEADLINE, port: 0 });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
  });

  it('binds 127.0.0.1 by default, and only the loopback address', async () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
    expect(new URL(server.url).hostname).toBe('127.0.0.1');
    expect(Number(new URL(server.url).port)).toBe(server.port);
    expect(await accepts('127.0.0.1', server.port)).toBe(true);
    // An address of this machine that is not loopback must not reach the server (it would if
    // it listened on 0.0.0.0). Machines without one (a bare container) check loopback only.
    const external = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a && a.family === 'IPv4' && !a.internal)
      .map((a) => a!.address);
    for (const address of external) expect(await accepts(address, server.port), `reachable on ${address}`).toBe(false);
  });

  it.each([
    ['/', /^text\/html\b/],
    ['/app.js', /^(text|application)\/javascript\b/],
    ['/app.css', /^text\/css\b/],
    ['/api/session', /^application\/json\b/],
    ['/api/trace/a', /^application\/(x-)?ndjson\b/],
  ])('%s answers 200 with the right content type', async (path, type) => {
    const response = await rawGet(server.port, path);
    expect(response.status).toBe(200);
    expect(response.type).toMatch(type);
    expect(response.body.length).toBeGreaterThan(0);
  });

  it('the page shell loads /app.js and /app.css', async () => {
    const html = (await rawGet(server.port, '/')).body;
    expect(html).toMatch(/<script[^>]*\bsrc=["']?\/app\.js["']?/);
    expect(html).toMatch(/<link[^>]*\bhref=["']?\/app\.css["']?/);
  });

  it('/api/session lists the one trace, not live', async () => {
    const session = JSON.parse((await rawGet(server.port, '/api/session')).body) as { traces: { id: string; label: string; live: boolean }[] };
    expect(session.traces).toHaveLength(1);
    expect(session.traces[0]).toMatchObject({ id: 'a', live: false });
    expect(typeof session.traces[0].label).toBe('string');
  });

  it('/api/trace/a is the run as trace lines: meta first, end last, steps in order', async () => {
    const lines = parseLines((await rawGet(server.port, '/api/trace/a')).body);
    expect(lines[0]).toMatchObject({ type: '@trace.meta', scenario: HEADLINE });
    const end = lines.at(-1)!;
    expect(end.type).toBe('@trace.end');
    const events = lines.filter((l): l is Extract<TraceLine, { time: number; actor: string }> => 'actor' in l && 'time' in l);
    expect(events.length).toBeGreaterThan(100);
    for (let i = 1; i < events.length; i++) expect(events[i].step).toBeGreaterThanOrEqual(events[i - 1].step);
    expect(events.at(-1)!.step).toBe((end as { steps: number }).steps);
    expect(lines.filter((l) => l.type === '@trace.violation').map((l) => (l as { invariant: string }).invariant)).toEqual(['I10']);
  });

  // Every way of naming a file outside the route table: each is 404, and none leaks a file.
  it.each([
    '/..',
    '/../package.json',
    '/../../etc/passwd',
    '/%2e%2e/package.json',
    '/%2e%2e%2fpackage.json',
    '/%2E%2E%2Fpackage.json',
    '/..%2fpackage.json',
    '/..%2Fpackage.json',
    '/%2F..%2F..%2Fpackage.json',
    '/%2Fetc%2Fpasswd',
    '//etc/passwd',
    '/etc/passwd',
    '/package.json',
    '/viewer/index.html',
    '/viewer/src/main.ts',
    '/src/main.ts',
    '/runtime/viewer/server.ts',
    '/api/trace/../../package.json',
    '/api/trace/..%2f..%2fpackage.json',
    '/api/trace/%2e%2e%2f%2e%2e%2fpackage.json',
    '/api/trace/a/../../../package.json',
    '/api/trace/b',
    '/api/trace/',
    '/api/live/b',
    '/app.js/../package.json',
    '/..\\package.json',
    '/\\..\\..\\package.json',
    '/%5c..%5cpackage.json',
    '/api/trace/..\\..\\package.json',
    '/app.js%00.html',
  ])('%s answers 404', async (path) => {
    const response = await rawGet(server.port, path);
    expect(response.status).toBe(404);
    expect(response.body).not.toContain('"name": "drainlab"');
    expect(response.body).not.toMatch(/root:.*:0:0:/);
  });

  it('the page loads nothing from the network: no http(s) URL in a place that fetches it', async () => {
    const js = (await rawGet(server.port, '/app.js')).body;
    const css = (await rawGet(server.port, '/app.css')).body;
    const html = (await rawGet(server.port, '/')).body;
    const loaders: [string, RegExp][] = [
      ['<script src=', /<script\b[^>]*\bsrc\s*=\s*\\?["'`]?\s*(https?:)?\/\//gi],
      ['<link href=', /<link\b[^>]*\bhref\s*=\s*\\?["'`]?\s*(https?:)?\/\//gi],
      ['<img/iframe src=', /<(img|iframe|source|video|audio|embed)\b[^>]*\bsrc\s*=\s*\\?["'`]?\s*(https?:)?\/\//gi],
      ['import(http)', /\bimport\s*\(\s*["'`]\s*(https?:)?\/\//gi],
      ['import from http', /\bfrom\s*["'`]\s*https?:\/\//gi],
      ['fetch(http)', /\bfetch\s*\(\s*["'`]\s*(https?:)?\/\//gi],
      ['url(http)', /\burl\s*\(\s*["']?\s*(https?:)?\/\//gi],
      ['@import http', /@import\s+(url\s*\()?\s*["']?\s*(https?:)?\/\//gi],
      ['new EventSource/WebSocket/Worker(http)', /\bnew\s+(EventSource|WebSocket|Worker|SharedWorker)\s*\(\s*["'`]\s*(https?:|wss?:)?\/\//gi],
      ['importScripts(http)', /\bimportScripts\s*\(\s*["'`]\s*(https?:)?\/\//gi],
      ['.src = http', /\.(src|href)\s*=\s*["'`]\s*(https?:)?\/\//gi],
      ['setAttribute(src, http)', /setAttribute\s*\(\s*["'`](src|href)["'`]\s*,\s*["'`]\s*(https?:)?\/\//gi],
      ['XMLHttpRequest.open(http)', /\.open\s*\(\s*["'`]\w+["'`]\s*,\s*["'`]\s*(https?:)?\/\//gi],
      ['sendBeacon(http)', /sendBeacon\s*\(\s*["'`]\s*(https?:)?\/\//gi],
    ];
    const found: string[] = [];
    for (const [what, text] of [
      ['app.js', js],
      ['app.css', css],
      ['index.html', html],
    ] as const) {
      for (const [name, pattern] of loaders) {
        for (const match of text.matchAll(pattern)) found.push(`${what}: ${name}: ${text.slice(Math.max(0, match.index! - 40), match.index! + 80)}`);
      }
    }
    expect(found).toEqual([]);
    // The shell itself names no http(s) resource at all.
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?\s*https?:/i);
  });

  it('sends a content security policy that allows only its own origin', async () => {
    const response = await new Promise<string>((done, fail) => {
      request({ host: '127.0.0.1', port: server.port, path: '/' }, (res) => {
        res.resume();
        done(String(res.headers['content-security-policy'] ?? ''));
      })
        .on('error', fail)
        .end();
    });
    expect(response).toMatch(/default-src 'none'/);
    expect(response).not.toMatch(/https?:/);
  });
});

describe('openView inputs', () => {
  it('a trace file is served as it is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drainlab-view-'));
    try {
      const file = join(dir, 'headline.ndjson');
      const status = await runCli(['run', HEADLINE, '--trace', file], dir, 60_000);
      expect(status.code, status.stderr).toBe(0);
      const server = await openView({ input: file, port: 0 });
      try {
        const served = parseLines((await rawGet(server.port, '/api/trace/a')).body);
        const { readFileSync } = await import('node:fs');
        expect(served).toEqual(parseLines(readFileSync(file, 'utf8')));
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('two inputs: /api/session lists a and b, and both traces are served', async () => {
    const server = await openView({ input: 'two-external-snapshots', compare: HEADLINE, port: 0 });
    try {
      const session = JSON.parse((await rawGet(server.port, '/api/session')).body) as { traces: { id: string }[] };
      expect(session.traces.map((t) => t.id)).toEqual(['a', 'b']);
      const a = parseLines((await rawGet(server.port, '/api/trace/a')).body);
      const b = parseLines((await rawGet(server.port, '/api/trace/b')).body);
      expect(a[0]).toMatchObject({ type: '@trace.meta', scenario: 'two-external-snapshots' });
      expect(b[0]).toMatchObject({ type: '@trace.meta', scenario: HEADLINE });
    } finally {
      await server.close();
    }
  });
});

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs `drainlab ARGS` as a child process in `cwd`; kills it (by its pid) after `timeout` ms. */
function runCli(args: string[], cwd: string, timeout: number): Promise<CliResult> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeout);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr, timedOut });
    });
  });
}

describe('drainlab view on a malformed trace file', () => {
  const meta = JSON.stringify({ type: '@trace.meta', format: 'drainlab.trace/1', scenario: 'x', title: 'x', seed: 0, strategy: 'fifo', era: '2015', protections: {}, source: 'run' });
  const state = (step: number) => JSON.stringify({ step, time: 0, vtime: 0, actor: 'node:drive0', type: '@trace.state', from: '', to: 'running' });
  const end = JSON.stringify({ type: '@trace.end', steps: 2, endReason: 'quiescent' });
  const cases: { what: string; text: string; line: number | 'any' }[] = [
    { what: 'bad JSON on line 3', text: [meta, state(0), '{"step": 1, "type": "@trace.state",', state(2), end].join('\n') + '\n', line: 3 },
    { what: 'a line that is not an object (an array)', text: [meta, '[1, 2, 3]', state(0), end].join('\n') + '\n', line: 2 },
    { what: 'a line that is not an object (a number)', text: [meta, state(0), state(1), '42', end].join('\n') + '\n', line: 4 },
    {
      what: 'an unknown type',
      text: [meta, state(0), JSON.stringify({ step: 1, time: 0, vtime: 0, actor: 'node:drive0', type: '@trace.teleport' }), end].join('\n') + '\n',
      line: 3,
    },
    {
      what: 'an event without its step',
      text: [meta, state(0), JSON.stringify({ time: 0, vtime: 0, actor: 'node:drive0', type: '@trace.state', from: 'running', to: 'draining' }), end].join('\n') + '\n',
      line: 3,
    },
    { what: 'an empty file', text: '', line: 'any' },
  ];

  it.each(cases)('$what: exit 2, bad.ndjson:LINE: message, no stack trace', async ({ text, line }) => {
    const dir = mkdtempSync(join(tmpdir(), 'drainlab-bad-'));
    try {
      writeFileSync(join(dir, 'bad.ndjson'), text);
      const result = await runCli(['view', 'bad.ndjson', '--port', '0'], dir, 30_000);
      expect(result.timedOut, `drainlab view did not exit within 30 s; stdout: ${result.stdout}`).toBe(false);
      expect(result.code, result.stderr).toBe(2);
      const where = line === 'any' ? '[01]' : String(line);
      expect(result.stderr).toMatch(new RegExp(`(^|\\s)bad\\.ndjson:${where}: \\S`, 'm'));
      expect(result.stderr).not.toMatch(/^\s+at\s/m);
      expect(result.stderr).not.toMatch(/internal error/i);
      expect(result.stdout).not.toMatch(/http:\/\//);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a good trace file: prints the URL, serves it, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drainlab-good-'));
    try {
      const run = await runCli(['run', HEADLINE, '--trace', 'good.ndjson'], dir, 60_000);
      expect(run.code, run.stderr).toBe(0);
      const child = spawn(process.execPath, [BIN, 'view', 'good.ndjson', '--port', '0'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      try {
        const url = await new Promise<string>((done, fail) => {
          let stdout = '';
          const timer = setTimeout(() => fail(new Error(`no URL within 30 s; stdout: ${stdout}; stderr: ${stderr}`)), 30_000);
          child.stdout.on('data', (chunk) => {
            stdout += chunk;
            const match = /^drainlab view: (http:\/\/127\.0\.0\.1:(\d+)\/)$/m.exec(stdout);
            if (match) {
              clearTimeout(timer);
              done(match[1]);
            }
          });
          child.on('exit', (code) => fail(new Error(`drainlab view exited with ${code}; stderr: ${stderr}`)));
        });
        const port = Number(new URL(url).port);
        const response = await rawGet(port, '/api/trace/a');
        expect(response.status).toBe(200);
        expect(parseLines(response.body).at(-1)?.type).toBe('@trace.end');
        child.kill('SIGTERM');
        expect(await exited, `exit status after SIGTERM; stderr: ${stderr}`).toBe(0);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
