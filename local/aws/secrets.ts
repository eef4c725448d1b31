import { randomUUID } from 'node:crypto';
import { sendJson, startHttpServer } from './http.ts';

/**
 * A Secrets Manager stand-in speaking the JSON 1.1 protocol for GetSecretValue and
 * PutSecretValue: enough for the real SDK client and Powertools Parameters. Values are never logged.
 */
export async function startLocalSecrets(initial: Record<string, string>) {
  const secrets = new Map(Object.entries(initial));
  const arn = (id: string) =>
    id.startsWith('arn:') ? id : `arn:aws:secretsmanager:us-east-1:000000000000:secret:${id}`;
  const server = await startHttpServer((req, body, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    let input: { SecretId?: string; SecretString?: string };
    try {
      input = JSON.parse(body || '{}');
    } catch {
      return sendJson(res, 400, { __type: 'InvalidRequestException', message: 'body is not JSON' });
    }
    const id = input.SecretId ?? '';
    if (target.endsWith('.GetSecretValue')) {
      const value = secrets.get(id);
      if (value === undefined) {
        return sendJson(res, 400, { __type: 'ResourceNotFoundException', message: `Secret ${id} not found` });
      }
      return sendJson(res, 200, {
        ARN: arn(id),
        Name: id,
        SecretString: value,
        VersionId: randomUUID(),
        VersionStages: ['AWSCURRENT'],
        CreatedDate: Date.now() / 1000,
      });
    }
    if (target.endsWith('.PutSecretValue')) {
      secrets.set(id, input.SecretString ?? '');
      return sendJson(res, 200, {
        ARN: arn(id),
        Name: id,
        VersionId: randomUUID(),
        VersionStages: ['AWSCURRENT'],
      });
    }
    return sendJson(res, 400, {
      __type: 'UnknownOperationException',
      message: `${target} is not supported locally`,
    });
  });
  return {
    endpoint: server.url,
    stop: server.stop,
    put: (id: string, value: string) => secrets.set(id, value),
  };
}
