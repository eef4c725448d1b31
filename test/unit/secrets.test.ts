import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { errorForLog } from '../../src/errors.ts';
import { appSecretSource } from '../../src/secrets.ts';

const sm = mockClient(SecretsManagerClient);
afterEach(() => sm.reset());

const SIGN = 'sk_live_SIGN1234';
const failureFor = async (secretString: string): Promise<Error> => {
  sm.on(GetSecretValueCommand).resolves({ SecretString: secretString });
  const client = new SecretsManagerClient({ region: 'us-east-1' });
  return appSecretSource('app-secret', { client, maxAgeSeconds: 0 })().then(
    () => new Error('expected a refusal'),
    (e: unknown) => e as Error,
  );
};

describe('appSecretSource', () => {
  it('reads a well-formed secret', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ cloverAppId: 'APP', hipoinkSign: SIGN }),
    });
    const client = new SecretsManagerClient({ region: 'us-east-1' });
    expect(await appSecretSource('app-secret', { client, maxAgeSeconds: 0 })()).toEqual({
      cloverAppId: 'APP',
      hipoinkSign: SIGN,
    });
  });

  it.each([
    ['the bare sign', SIGN],
    ['JSON with an unquoted value', `{"cloverAppId":"APP","hipoinkSign":${SIGN}}`],
  ])('calls %s not valid JSON, naming the secret but quoting none of its value', async (_, value) => {
    const err = await failureFor(value);
    const logged = JSON.stringify(errorForLog(err)) + String(err);
    for (const part of [SIGN, 'sk_live', 'SIGN12', 'APP"']) expect(logged).not.toContain(part);
    expect(err.message).toMatch(/App secret app-secret is not valid JSON/);
  });
});
