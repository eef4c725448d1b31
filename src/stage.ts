import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICE_NAME } from './metric-names.ts';

/**
 * Deploy stages (e.g. sandbox, production): each is one stack, `EslSync-<stage>`, with its own
 * committed settings (config/<stage>.json). The CDK app and the CLI (`--aws --stage NAME`) both
 * name stacks here, so they cannot disagree.
 */
const STAGE_NAME = /^[a-z][a-z0-9-]{0,29}$/;

/** The stage plain `cdk synth` uses: it synthesizes offline anywhere and can never be deployed. */
export const EXAMPLE_STAGE = 'example';

/**
 * A stage's name or settings are wrong: the installer's to fix, and the message says where.
 * `cdk synth` prints it as one line; any other error is a fault in the app and keeps its stack.
 */
export class StageSettingsError extends Error {
  override readonly name = 'StageSettingsError';
}

export function checkStageName(stage: string): string {
  if (!STAGE_NAME.test(stage)) {
    throw new StageSettingsError(
      `A stage name is lower-case letters, digits and dashes, starting with a letter (at most 30); got ${JSON.stringify(stage)}`,
    );
  }
  return stage;
}

export const stackNameOf = (stage: string) => `EslSync-${checkStageName(stage)}`;

/**
 * The `service` of a stage's logs and the dimension of its metrics: two stages in one account
 * and region publish to one namespace, and must not count each other's stores.
 */
export const serviceNameOf = (stage: string) => `${SERVICE_NAME}-${checkStageName(stage)}`;

/** Where each stage's settings are committed, one `<stage>.json` per stage. */
export const CONFIG_DIR = fileURLToPath(new URL('../config/', import.meta.url));

/** A stage's committed settings, read from config/<stage>.json. */
export function readStageFile(stage: string, dir = CONFIG_DIR): unknown {
  const file = join(dir, `${checkStageName(stage)}.json`);
  if (!existsSync(file)) {
    const known = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length));
    throw new StageSettingsError(
      `No settings for stage ${stage}: create config/${stage}.json (copy config/${EXAMPLE_STAGE}.json). ` +
        `Stages with settings: ${known.join(', ')}`,
    );
  }
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new StageSettingsError(`config/${stage}.json is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * The account and region a stage's settings pin it to, where they do: its stack exists only there,
 * so the CLI looks in that region whatever the credentials' default, and refuses a stack it finds in
 * another account. Read leniently: a file `cdk synth` would refuse pins nothing, and the stack
 * lookup says what it did not find.
 */
export function pinnedEnvOf(stage: string, dir = CONFIG_DIR): { account?: string; region?: string } {
  let settings: unknown;
  try {
    settings = readStageFile(stage, dir);
  } catch {
    return {};
  }
  const { account, region } = (settings ?? {}) as { account?: unknown; region?: unknown };
  return {
    ...(typeof account === 'string' && account !== '' ? { account } : {}),
    ...(typeof region === 'string' && region !== '' ? { region } : {}),
  };
}
