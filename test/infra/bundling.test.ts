import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EslSyncStack } from '../../lib/esl-sync-stack.ts';
import { testApp } from './support.ts';

describe('bundling', () => {
  it('bundles every handler with the local esbuild, without Docker, as ESM, each under 250 KB', () => {
    const app = testApp({}, { bundle: true });
    new EslSyncStack(app, 'EslSync', {
      hipoinkBaseUrl: 'https://hipoink.test',
      productCodePrecedence: 'code,sku,id',
    });
    const assembly = app.synth();
    const assets = readdirSync(assembly.directory).filter((d) => d.startsWith('asset.'));
    expect(assets).toHaveLength(6);
    for (const asset of assets) {
      const code = readFileSync(join(assembly.directory, asset, 'index.mjs'), 'utf8');
      expect(code).toMatch(/export\s*\{[^}]*as handler/);
      // The AWS SDK comes from the Lambda runtime, not the bundle.
      expect(code).not.toContain('node_modules/@aws-sdk/client-dynamodb');
      // Small enough to load fast at a cold start: zod's messages in English only, without the
      // other locales (e.g. the German "erwartet").
      expect(statSync(join(assembly.directory, asset, 'index.mjs')).size).toBeLessThan(250 * 1024);
      expect(code).not.toContain('erwartet');
    }
  });
});
