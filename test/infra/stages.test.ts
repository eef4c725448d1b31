import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { addStage, checkStageFile, stageOf } from '../../lib/stage.ts';
import { METRIC_NAMESPACE } from '../../src/metric-names.ts';
import { CONFIG_DIR, readStageFile, StageSettingsError } from '../../src/stage.ts';
import { testApp } from './support.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const functionVars = (t: Template) =>
  Object.values(t.findResources('AWS::Lambda::Function')).map(
    (f) => f.Properties.Environment.Variables as Record<string, string>,
  );
const alarmsOf = (t: Template) =>
  Object.values(t.findResources('AWS::CloudWatch::Alarm')).map(
    (a) =>
      a.Properties as {
        AlarmName: string;
        Namespace?: string;
        Dimensions?: unknown;
        AlarmDescription: string;
      },
  );

/** Every stage names where its product codes come from. */
const CODES = { productCodePrecedence: 'code,sku,id' };

describe('deploy stages', () => {
  it('synthesizes two stages side by side, each with its own name and settings', () => {
    const app = testApp();
    const sandbox = addStage(app, 'sandbox', {
      ...CODES,
      hipoinkBaseUrl: 'https://esl-staging.fuel-stop.net',
      cloverEnvironment: 'sandbox',
      pollIntervalSeconds: 300,
    });
    const production = addStage(app, 'production', {
      ...CODES,
      hipoinkBaseUrl: 'https://esl.fuel-stop.net',
      cloverEnvironment: 'production',
      cloverRegion: 'eu',
      pollerMaxConcurrency: 8,
      account: '123456789012',
      region: 'eu-west-1',
    });
    expect([sandbox.stackName, production.stackName]).toEqual(['EslSync-sandbox', 'EslSync-production']);
    expect(production.region).toBe('eu-west-1');
    expect(production.account).toBe('123456789012');

    const [s, p] = [Template.fromStack(sandbox), Template.fromStack(production)];
    const expected = [
      [
        s,
        'https://esl-staging.fuel-stop.net',
        'https://apisandbox.dev.clover.com',
        '300',
        'esl-sync-sandbox',
      ],
      [p, 'https://esl.fuel-stop.net', 'https://api.eu.clover.com', '120', 'esl-sync-production'],
    ] as const;
    for (const [t, hipoink, clover, interval, service] of expected) {
      // The five sync functions see the whole stage; the web function only what the connect flow reads.
      const [sync, web] = [
        functionVars(t).filter((v) => v.PRODUCTS_TABLE !== undefined),
        functionVars(t).filter((v) => v.PRODUCTS_TABLE === undefined),
      ];
      expect([sync.length, web.length]).toEqual([5, 1]);
      for (const v of sync) {
        expect(v).toMatchObject({
          HIPOINK_BASE_URL: hipoink,
          CLOVER_API_BASE_URL: clover,
          POLL_INTERVAL_SECONDS: interval,
          POWERTOOLS_SERVICE_NAME: service,
        });
      }
      expect(web[0]).toMatchObject({ CLOVER_API_BASE_URL: clover, POWERTOOLS_SERVICE_NAME: service });
    }
    // The fan-out runs every minute whatever the interval; each stage's interval is its functions' own.
    s.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
    p.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 8 } });

    // Alarm names and the metrics they watch are the stage's own, so one stage never sees the other's.
    for (const [t, stage] of [
      [s, 'sandbox'],
      [p, 'production'],
    ] as const) {
      const alarms = alarmsOf(t);
      expect(alarms.length).toBeGreaterThan(10);
      for (const a of alarms) {
        expect(a.AlarmName.startsWith(`EslSync-${stage}-`)).toBe(true);
        if (a.Namespace === METRIC_NAMESPACE)
          expect(a.Dimensions).toEqual([{ Name: 'service', Value: `esl-sync-${stage}` }]);
      }
      // Each alarm that quotes a CLI command quotes the one reaching this stage.
      const quoting = alarms.filter((a) => a.AlarmDescription.includes('esl-sync '));
      expect(quoting.length).toBeGreaterThan(3);
      for (const a of quoting) expect(a.AlarmDescription).toContain(`--aws --stage ${stage}`);
    }
  });

  it('fails a deploy stage without a real hipoinkBaseUrl, naming the key and the file', () => {
    const add = (raw: object) => () => addStage(testApp(), 'production', { ...CODES, ...raw });
    expect(add({ cloverEnvironment: 'production' })).toThrow(
      /^config\/production\.json: hipoinkBaseUrl: required: the URL of this stage’s Hipoink ESL server$/,
    );
    for (const placeholder of [
      'https://hipoink.example.invalid',
      'https://esl.example.com',
      'http://localhost:8080',
      'https://hipoink.test',
    ]) {
      expect(add({ hipoinkBaseUrl: placeholder }), placeholder).toThrow(
        /config\/production\.json: hipoinkBaseUrl: .* is a placeholder host/,
      );
    }
    expect(add({ hipoinkBaseUrl: 'esl.fuel-stop.net' })).toThrow(
      /hipoinkBaseUrl: must be an http\(s\) URL \(got esl\.fuel-stop\.net\)/,
    );
  });

  it('refuses a misspelt or out-of-range setting instead of falling back to a default', () => {
    const check = (raw: unknown) => () => checkStageFile('sandbox', raw);
    const url = { ...CODES, hipoinkBaseUrl: 'https://esl.fuel-stop.net' };
    expect(check({ ...url, hipoinkBaseURL: 'https://x.fuel-stop.net' })).toThrow(
      /hipoinkBaseURL: not a stage setting/,
    );
    expect(check({ ...url, pollIntervalSeconds: 90 })).toThrow(
      /pollIntervalSeconds: must be a whole number of minutes .* \(got 90\)/,
    );
    expect(check({ ...url, cloverRegion: 'us' })).toThrow(
      /cloverRegion: must be one of na, eu, la \(got us\)/,
    );
    expect(check({ ...url, cloverRequestsPerSecond: 100 })).toThrow(/cloverRequestsPerSecond: .*<=50/);
    expect(check({ ...url, account: '1234' })).toThrow(/account: must be a 12-digit AWS account id/);
    expect(check([url])).toThrow(/expected a JSON object of stage settings/);
    expect(() => checkStageFile('Prod', url)).toThrow(/A stage name is lower-case/);
  });

  it('picks the stage with -c stage=NAME, the example without, and refuses the old -c settings', () => {
    expect(stageOf(testApp({ stage: 'production' }))).toBe('production');
    expect(stageOf(testApp())).toBe('example');
    expect(() =>
      stageOf(testApp({ hipoinkBaseUrl: 'https://esl.fuel-stop.net', pollIntervalSeconds: 60 })),
    ).toThrow(
      /-c hipoinkBaseUrl, -c pollIntervalSeconds: stage settings are read from config\/<stage>\.json/,
    );
  });

  it('ships an example stage that synthesizes offline but that CloudFormation refuses to deploy', () => {
    const stack = addStage(testApp(), 'example', readStageFile('example'));
    expect(stack.stackName).toBe('EslSync-example');
    const template = Template.fromStack(stack).toJSON();
    const rule = template.Rules?.ExampleStageIsNotDeployable;
    expect(rule.Assertions[0].Assert).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'ExampleStage' }, 'not-deployable'] }],
    });
    expect(rule.Assertions[0].AssertDescription).toMatch(/npx cdk deploy -c stage=NAME/);
    expect(template.Parameters.ExampleStage.Default).toBe('not-deployable');
    // A deploy stage carries no such rule.
    const real = addStage(testApp(), 'production', { ...CODES, hipoinkBaseUrl: 'https://esl.fuel-stop.net' });
    expect(Template.fromStack(real).toJSON().Rules?.ExampleStageIsNotDeployable).toBeUndefined();
    expect(() => readStageFile('staging')).toThrow(
      /No settings for stage staging: create config\/staging\.json .*Stages with settings: .*example/,
    );
    expect(CONFIG_DIR).toBe(join(ROOT, 'config/'));
  });

  it('runs as `cdk synth` does: the example stage by default', async () => {
    const run = promisify(execFile);
    const outdir = mkdtempSync(join(tmpdir(), 'esl-sync-synth-'));
    const env = {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [] }),
    };
    await run(process.execPath, ['--import', 'tsx', 'bin/app.ts'], { cwd: ROOT, env });
    const template = JSON.parse(readFileSync(join(outdir, 'EslSync-example.template.json'), 'utf8'));
    expect(template.Rules.ExampleStageIsNotDeployable).toBeDefined();
  });

  it('names a stage file problem in one line, without a stack trace', async () => {
    const run = promisify(execFile);
    const env = {
      ...process.env,
      CDK_OUTDIR: mkdtempSync(join(tmpdir(), 'esl-sync-synth-')),
      CDK_CONTEXT_JSON: JSON.stringify({ stage: 'no-such-stage', 'aws:cdk:bundling-stacks': [] }),
    };
    const failed = await run(process.execPath, ['--import', 'tsx', 'bin/app.ts'], { cwd: ROOT, env }).then(
      () => undefined,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr?.trim()).toMatch(
      /^esl-sync: No settings for stage no-such-stage: create config\/no-such-stage\.json/,
    );
    expect(failed?.stderr).not.toMatch(/\n\s+at /);
  });

  it('keeps the stack trace of an error that is no settings problem (a fault in the app)', async () => {
    const run = promisify(execFile);
    const dir = mkdtempSync(join(tmpdir(), 'esl-sync-synth-'));
    // Loaded before bin/app.ts: building the stack then fails as a bug in lib/ would.
    const fault = join(dir, 'fault.mjs');
    writeFileSync(
      fault,
      `const { EslSyncStack } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'lib/esl-sync-stack.ts')).href)});\n` +
        "EslSyncStack.prototype.acknowledgeNagFindings = () => { throw new TypeError('a fault in the app'); };\n",
    );
    const env = {
      ...process.env,
      CDK_OUTDIR: dir,
      CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [] }),
    };
    const failed = await run(process.execPath, ['--import', 'tsx', '--import', fault, 'bin/app.ts'], {
      cwd: ROOT,
      env,
    }).then(
      () => undefined,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(failed?.code).not.toBe(0);
    expect(failed?.stderr).toContain('TypeError: a fault in the app');
    expect(failed?.stderr).toMatch(/\n\s+at .*esl-sync-stack\.ts/);
  });

  it('calls a bad alertEmail a settings problem, like the rest of the stage file', () => {
    /** The message of the StageSettingsError `build` throws (what `cdk synth` prints as one line). */
    const settingsProblem = (build: () => unknown) => {
      try {
        build();
      } catch (err) {
        if (err instanceof StageSettingsError) return err.message;
        throw err;
      }
      throw new Error('no error');
    };
    const bad = { ...CODES, hipoinkBaseUrl: 'https://esl.fuel-stop.net', alertEmail: 'ops at fuel-stop' };
    expect(settingsProblem(() => addStage(testApp(), 'production', bad))).toMatch(
      /^alertEmail must be an email/,
    );
    expect(settingsProblem(() => readStageFile('staging'))).toMatch(/^No settings for stage staging/);
    expect(settingsProblem(() => stageOf(testApp({ stage: 'Bad Name' })))).toMatch(/^A stage name is/);
    expect(
      settingsProblem(() => addStage(testApp(), 'production', { ...CODES, hipoinkBaseUrl: 'ftp://x' })),
    ).toMatch(/^config\/production\.json: hipoinkBaseUrl/);
  });
});
