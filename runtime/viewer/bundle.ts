/**
 * The page's assets, built once per server from the sources in viewer/: esbuild bundles
 * viewer/src/main.ts (and the CSS it imports) in memory, so the package ships sources only and
 * the page never loads anything from the network.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { InternalError } from '../errors.ts';

export const VIEWER_ROOT = resolve(import.meta.dirname, '../../viewer');

export interface ViewerAssets {
  html: string;
  js: string;
  css: string;
}

let cached: Promise<ViewerAssets> | null = null;

/** The bundle, built at the first call and shared afterwards (servers in one process, tests). */
export function viewerAssets(): Promise<ViewerAssets> {
  cached ??= buildAssets().catch((error) => {
    cached = null;
    throw error;
  });
  return cached;
}

async function buildAssets(): Promise<ViewerAssets> {
  const html = readFileSync(resolve(VIEWER_ROOT, 'index.html'), 'utf8');
  let result;
  try {
    result = await build({
      entryPoints: { app: resolve(VIEWER_ROOT, 'src/main.ts') },
      bundle: true,
      write: false,
      format: 'iife',
      platform: 'browser',
      target: 'es2022',
      outdir: '/viewer-bundle',
      legalComments: 'none',
      logLevel: 'silent',
      minify: true,
    });
  } catch (error) {
    throw new InternalError(`the viewer did not build: ${(error as Error).message.split('\n')[0]}`);
  }
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'))?.text;
  const css = result.outputFiles.find((f) => f.path.endsWith('.css'))?.text ?? '';
  if (js === undefined) throw new InternalError('the viewer bundle has no JavaScript output');
  return { html, js, css };
}
