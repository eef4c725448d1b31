import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { addStage, stageOf } from '../lib/stage.ts';
import { readStageFile, StageSettingsError } from '../src/stage.ts';

// One stage per synth: `-c stage=NAME` reads config/NAME.json and makes stack EslSync-NAME.
// Without it, the example stage: offline and anywhere, never deployable.
const app = new App();
try {
  const stage = stageOf(app);
  const { CDK_DEFAULT_ACCOUNT: account, CDK_DEFAULT_REGION: region } = process.env;
  // The CLI's credentials place a stage whose file names no account and region.
  addStage(app, stage, readStageFile(stage), account && region ? { account, region } : {});
} catch (err) {
  // A settings problem is the installer's to fix: its message names the file and key, and a
  // stack trace into lib/ would only bury it. Any other error is a fault in the app: its stack stays.
  if (!(err instanceof StageSettingsError)) throw err;
  console.error(`esl-sync: ${err.message}`);
  process.exit(1);
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
