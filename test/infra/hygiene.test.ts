import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const json = (path: string) => JSON.parse(readFileSync(join(ROOT, path), 'utf8'));

describe('dependency and CDK hygiene', () => {
  it('sets every feature flag the installed aws-cdk-lib recommends, to its recommended value', () => {
    const recommended: Record<string, unknown> = json(
      'node_modules/aws-cdk-lib/recommended-feature-flags.json',
    );
    const context: Record<string, unknown> = json('cdk.json').context;
    expect(Object.keys(recommended).length).toBeGreaterThan(50);
    for (const [flag, value] of Object.entries(recommended)) expect(context[flag], flag).toEqual(value);
  });

  it('keeps every Powertools package, and what they share, on one exact version', () => {
    const declared = Object.entries<string>(json('package.json').dependencies).filter(([name]) =>
      name.startsWith('@aws-lambda-powertools/'),
    );
    expect(declared.length).toBeGreaterThanOrEqual(4);
    const versions = new Set(declared.map(([, version]) => version));
    expect([...versions]).toHaveLength(1);
    const [version] = versions;
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    const installed = Object.entries<{ version: string }>(json('package-lock.json').packages).filter(
      ([path]) => path.includes('node_modules/@aws-lambda-powertools/'),
    );
    // Each package once, at the top (no nested copy of commons on another version).
    for (const [path, entry] of installed) {
      expect(path, path).toMatch(/^node_modules\/@aws-lambda-powertools\/[^/]+$/);
      expect(entry.version, path).toBe(version);
    }
  });
});
