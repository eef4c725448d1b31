import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { merchantLine } from '../../src/cli/text.ts';
import { createDocumentClient } from '../../src/store/dynamo.ts';
import { createMerchantStore, merchantView } from '../../src/store/merchants.ts';
import { createShelfStore } from '../../src/store/shelf.ts';
import { merchantRecord } from './fakes.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const doc = createDocumentClient(new DynamoDBClient({ region: 'us-east-1' }));
const conditionFailed = () => new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });

beforeEach(() => ddb.reset());

describe('merchant store', () => {
  const store = createMerchantStore(doc, 'merchants', () => 1_000_000);

  it('takes the refresh lease only for the current token version and a free or expired lease', async () => {
    ddb.on(UpdateCommand).resolves({});
    expect(await store.acquireRefreshLease('M1', 'me', 7, 30_000)).toBe(true);
    const input = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input?.ConditionExpression).toContain('tokenVersion = :v');
    expect(input?.ConditionExpression).toContain('refreshLeaseUntil < :now');
    expect(input?.ExpressionAttributeValues).toMatchObject({ ':v': 7, ':until': 1_030_000, ':o': 'me' });

    ddb.on(UpdateCommand).rejects(conditionFailed());
    expect(await store.acquireRefreshLease('M1', 'me', 7, 30_000)).toBe(false);
  });

  it('stores a refreshed pair with the previous refresh token and the next version, for that version only', async () => {
    ddb.on(UpdateCommand).resolves({});
    const tokens = {
      access_token: 'a2',
      access_token_expiration: 5,
      refresh_token: 'r2',
      refresh_token_expiration: 9,
    };
    expect(await store.saveRefreshedTokens('M1', 3, tokens, 'r1')).toBe(true);
    const input = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input?.ConditionExpression).toBe('tokenVersion = :v');
    expect(input?.ExpressionAttributeValues).toMatchObject({
      ':prev': 'r1',
      ':next': 4,
      ':rt': 'r2',
      ':at': 'a2',
    });
  });

  it('shows merchants without any token value', () => {
    const view = merchantView(
      merchantRecord({ accessToken: 'AT-SECRET', refreshToken: 'RT-SECRET', previousRefreshToken: 'PRT' }),
    );
    const text = JSON.stringify(view);
    for (const secret of ['AT-SECRET', 'RT-SECRET', 'PRT']) expect(text).not.toContain(secret);
    expect(view).toMatchObject({ merchantId: 'M1', storeCode: 'store-1', state: 'active' });
  });

  it('flags a refresh token that expires within 7 days', () => {
    const now = 1_000_000_000_000;
    const soon = merchantRecord({ refreshTokenExpiresAt: now / 1000 + 6 * 86_400 });
    const later = merchantRecord({ refreshTokenExpiresAt: now / 1000 + 8 * 86_400 });
    expect(merchantView(soon, now).refreshTokenExpiringSoon).toBe(true);
    expect(merchantView(later, now).refreshTokenExpiringSoon).toBe(false);
  });
});

describe('merchant view of webhook notices', () => {
  it('shows when the last notice came and which poll interval applies', () => {
    const now = Date.parse('2026-11-25T12:00:00Z');
    const heard = merchantView(merchantRecord({ lastNoticeAt: now - 10 * 60_000 }), now);
    expect(heard).toMatchObject({ lastNoticeAt: '2026-11-25T11:50:00.000Z', pollCadence: 'safety' });
    const quiet = merchantView(merchantRecord({ lastNoticeAt: now - 2 * 3_600_000 }), now);
    expect(quiet.pollCadence).toBe('normal');
    const never = merchantView(merchantRecord(), now);
    expect(never.pollCadence).toBe('normal');
    expect(never.lastNoticeAt).toBeUndefined();
    // status names an interval only for a store that is polled.
    expect(merchantLine(heard)).toContain(
      'last webhook notice 2026-11-25T11:50:00.000Z, safety poll interval',
    );
    const uninstalled = merchantRecord({ lastNoticeAt: now - 10 * 60_000, state: 'disabled' });
    expect(merchantLine(merchantView(uninstalled, now))).toContain(
      'last webhook notice 2026-11-25T11:50:00.000Z, not polled',
    );
  });
});

describe('shelf store', () => {
  const store = createShelfStore(doc, 'products', () => 1);

  it('retries unprocessed keys of a batch read', async () => {
    const item = {
      merchantId: 'M1',
      itemId: 'I2',
      status: 'invalid',
      invalidReason: 'x',
      stateHash: 'h',
      updatedAt: 1,
    };
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { products: [{ ...item, itemId: 'I1' }] },
        UnprocessedKeys: { products: { Keys: [{ merchantId: 'M1', itemId: 'I2' }] } },
      })
      .resolves({ Responses: { products: [item] } });
    const records = await store.getItems('M1', ['I1', 'I2', 'I1']);
    expect(records.map((r) => r.itemId).sort()).toEqual(['I1', 'I2']);
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(2);
  });
});
