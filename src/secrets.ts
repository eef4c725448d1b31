import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';

/** The app secret in Secrets Manager. Its values are credentials: never logged, never returned. */
export const AppSecretSchema = z.object({
  cloverAppId: z.string().min(1),
  /** Only high-trust apps hold it; enables Clover's recovery-token path. */
  cloverAppSecret: z.string().min(1).optional(),
  hipoinkSign: z.string().min(1),
});
export type AppSecret = z.infer<typeof AppSecretSchema>;

export type AppSecretSource = () => Promise<AppSecret>;

/** Reads the app secret through Powertools, cached across invocations for `maxAgeSeconds`. */
export function appSecretSource(
  secretId: string,
  opts: { client?: SecretsManagerClient; maxAgeSeconds?: number } = {},
): AppSecretSource {
  const provider = new SecretsProvider(opts.client ? { awsSdkV3Client: opts.client } : {});
  return async () => {
    const raw = await provider.get(secretId, { transform: 'json', maxAge: opts.maxAgeSeconds ?? 300 });
    const parsed = AppSecretSchema.safeParse(raw);
    // The issues name fields only; zod does not echo the values of string fields that fail .min().
    if (!parsed.success) {
      throw new Error(
        `App secret ${secretId} is malformed: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`,
      );
    }
    return parsed.data;
  };
}
