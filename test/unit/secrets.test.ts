import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { errorForLog } from '../../src/errors.ts';
import { appSecretSource, hipoinkSecretSource } from '../../src/secrets.ts';

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
      SecretString: JSON.stringify({ cloverAppId: 'APP', cloverWebhookAuthCode: 'AUTH' }),
    });
    const client = new SecretsManagerClient({ region: 'us-east-1' });
    expect(await appSecretSource('app-secret', { client, maxAgeSeconds: 0 })()).toEqual({
      cloverAppId: 'APP',
      cloverWebhookAuthCode: 'AUTH',
    });
  });

  it('ignores a hipoinkSign left in the app secret: the sign is read from the Hipoink secret alone', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ cloverAppId: 'APP', hipoinkSign: SIGN }),
    });
    const client = new SecretsManagerClient({ region: 'us-east-1' });
    expect(await appSecretSource('app-secret', { client, maxAgeSeconds: 0 })()).toEqual({
      cloverAppId: 'APP',
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

describe('hipoinkSecretSource', () => {
  const read = (value: string) => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: value });
    const client = new SecretsManagerClient({ region: 'us-east-1' });
    return hipoinkSecretSource('hipoink-secret', { client, maxAgeSeconds: 0 })();
  };

  it('reads the sign', async () => {
    expect(await read(JSON.stringify({ hipoinkSign: SIGN }))).toEqual({ hipoinkSign: SIGN });
  });

  it('refuses the placeholder the stack creates it with, and a missing sign, quoting no value', async () => {
    await expect(read(JSON.stringify({ hipoinkSign: 'SET-ME' }))).rejects.toThrow(
      /Hipoink secret hipoink-secret is not usable: hipoinkSign: still the placeholder: put the real sign into the Hipoink secret/,
    );
    await expect(read(JSON.stringify({ sign: SIGN }))).rejects.toThrow(/hipoinkSign/);
    const err = await read(SIGN).catch((e: unknown) => e as Error);
    expect(String(err)).toMatch(
      /Hipoink secret hipoink-secret is not valid JSON: store \{"hipoinkSign": "…"\}/,
    );
    expect(String(err)).not.toContain('SIGN12');
  });
});
