import { type App, CfnParameter, CfnRule, Fn, type Stack } from 'aws-cdk-lib';
import { checkStageName, EXAMPLE_STAGE, StageSettingsError, stackNameOf } from '../src/stage.ts';
import * as z from '../src/zod.ts';
import { EslSyncStack } from './esl-sync-stack.ts';
import { describeIssues, STAGE_SETTING_KEYS, StageSettingsSchema } from './stage-settings.ts';

/**
 * A stage file: the stack's settings, and optionally the account and region the stage belongs
 * to (then a deploy with another account's credentials fails instead of creating a second copy).
 * Unknown keys are refused, so a misspelt setting cannot silently fall back to its default.
 */
const StageFileSchema = z.strict(
  z.extend(StageSettingsSchema, {
    account: z.optional(z.string().check(z.regex(/^\d{12}$/, 'must be a 12-digit AWS account id'))),
    region: z.optional(
      z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region such as us-east-1')),
    ),
  }),
);
export type StageFile = z.input<typeof StageFileSchema>;

/** Hosts reserved for examples and tests: never a real Hipoink server. */
function placeholderHost(url: string): boolean {
  const host = new URL(url).hostname.toLowerCase();
  return (
    host === 'localhost' ||
    /\.(invalid|example|test|localhost)$/.test(host) ||
    /(^|\.)example\.(com|net|org)$/.test(host)
  );
}

/**
 * Checks a stage's settings and returns them as written (the stack applies the defaults). Every
 * stage but the example must name its real Hipoink server: without one, a deploy would run
 * against a placeholder host.
 */
export function checkStageFile(stage: string, raw: unknown, source = `config/${stage}.json`): StageFile {
  checkStageName(stage);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new StageSettingsError(`${source}: expected a JSON object of stage settings`);
  }
  const given = raw as Record<string, unknown>;
  const parsed = StageFileSchema.safeParse(given);
  if (!parsed.success)
    throw new StageSettingsError(`${source}: ${describeIssues(parsed.error.issues, given)}`);
  if (stage !== EXAMPLE_STAGE && placeholderHost(parsed.data.hipoinkBaseUrl)) {
    throw new StageSettingsError(
      `${source}: hipoinkBaseUrl: ${parsed.data.hipoinkBaseUrl} is a placeholder host; a deploy stage names its real Hipoink ESL server`,
    );
  }
  return given as StageFile;
}

/** The stage chosen with `-c stage=NAME`; the example stage without one. */
export function stageOf(app: App): string {
  // Settings given the old way would be ignored, and the deploy would silently use others.
  const stale = STAGE_SETTING_KEYS.filter((k) => app.node.tryGetContext(k) !== undefined);
  if (stale.length > 0) {
    throw new StageSettingsError(
      `${stale.map((k) => `-c ${k}`).join(', ')}: stage settings are read from config/<stage>.json, not from -c; ` +
        'put them in the stage’s file and choose it with -c stage=NAME',
    );
  }
  const stage = app.node.tryGetContext('stage');
  return stage === undefined || stage === null ? EXAMPLE_STAGE : checkStageName(String(stage));
}

/**
 * Adds one stage's stack, `EslSync-<stage>`, to the app. Its account and region come from the
 * stage file when it names them, else from `defaultEnv` (the CLI's credentials); no lookups, so
 * synth works offline.
 */
export function addStage(
  app: App,
  stage: string,
  raw: unknown,
  defaultEnv: { account?: string | undefined; region?: string | undefined } = {},
): EslSyncStack {
  const { account, region, ...settings } = checkStageFile(stage, raw);
  const env = { account: account ?? defaultEnv.account, region: region ?? defaultEnv.region };
  const stack = new EslSyncStack(app, stackNameOf(stage), {
    ...settings,
    stage,
    description: `esl-sync (${stage}): keeps Hipoink shelf labels in step with Clover inventory`,
    ...(env.account !== undefined || env.region !== undefined ? { env } : {}),
  });
  if (stage === EXAMPLE_STAGE) refuseDeploys(stack);
  return stack;
}

/**
 * The example stage synthesizes anywhere, so its template must never become a stack:
 * CloudFormation checks template rules before it creates anything, and this one always fails.
 */
function refuseDeploys(stack: Stack) {
  const marker = new CfnParameter(stack, 'ExampleStage', {
    type: 'String',
    default: 'not-deployable',
    description: 'The example stage shows what the app synthesizes; it is never deployed.',
  });
  new CfnRule(stack, 'ExampleStageIsNotDeployable', {
    assertions: [
      {
        assert: Fn.conditionNot(Fn.conditionEquals(marker.valueAsString, 'not-deployable')),
        assertDescription:
          'The example stage is not deployable (placeholder Hipoink host). Deploy a stage of your own: ' +
          'create config/NAME.json and run npx cdk deploy -c stage=NAME.',
      },
    ],
  });
}
