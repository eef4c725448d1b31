import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';

const ROOT = join(import.meta.dirname, '..', '..');

/** cdk.json's context (the feature flags), so tests check the template `cdk synth` makes. */
const CDK_CONTEXT: Record<string, unknown> = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')).context;

/**
 * An app as `cdk synth` builds it, with extra context. Unless `bundle` is set it skips bundling
 * (fast); test/infra/bundling.test.ts proves bundling works.
 */
export function testApp(context: Record<string, unknown> = {}, opts: { bundle?: boolean } = {}) {
  return new App({
    context: { ...CDK_CONTEXT, ...(opts.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }), ...context },
  });
}

/** Source files that publish metrics: the handlers and the dependencies they build (the web function's too). */
export function publishingSource(): string {
  const handlers = readdirSync(join(ROOT, 'functions')).map((d) =>
    readFileSync(join(ROOT, 'functions', d, 'handler.ts'), 'utf8'),
  );
  const deps = [join('src', 'deps.ts'), join('src', 'web', 'deps.ts')];
  return [...handlers, ...deps.map((f) => readFileSync(join(ROOT, f), 'utf8'))].join('\n');
}

export type DashboardWidget = {
  type: string;
  properties: { title?: string; markdown?: string; metrics?: unknown[][]; alarms?: string[] };
};

/** The stack's one dashboard body as CloudFormation will send it, each reference written as `{'Ref':…}`. */
export function dashboardOf(template: Template): { widgets: DashboardWidget[] } {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  if (dashboards.length !== 1) throw new Error(`expected one dashboard, found ${dashboards.length}`);
  const body = dashboards[0]?.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] };
  const text = body['Fn::Join'][1]
    .map((part) => (typeof part === 'string' ? part : JSON.stringify(part).replace(/"/g, "'")))
    .join('');
  return JSON.parse(text);
}

/** Each metric line of a graph widget: [namespace, name, ...dimension pairs] (options left out). */
export const metricLines = (w: DashboardWidget) =>
  (w.properties.metrics ?? []).map((line) => line.filter((part) => typeof part === 'string') as string[]);
