import { SERVICE_NAME } from './metric-names.ts';

/**
 * Deploy stages (e.g. sandbox, production): each is one stack, `EslSync-<stage>`, with its own
 * committed settings (config/<stage>.json). The CDK app and the CLI (`--aws --stage NAME`) both
 * name stacks here, so they cannot disagree.
 */
const STAGE_NAME = /^[a-z][a-z0-9-]{0,29}$/;

/** The stage plain `cdk synth` uses: it synthesizes offline anywhere and can never be deployed. */
export const EXAMPLE_STAGE = 'example';

export function checkStageName(stage: string): string {
  if (!STAGE_NAME.test(stage)) {
    throw new Error(
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
