import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type Invite, InviteSchema } from '../connect/invites.ts';
import { writeIf } from './dynamo.ts';
import { MERCHANTS_TABLE_TTL_ATTRIBUTE } from './tables.ts';

/**
 * The connect flow's records in the merchants table, under keys starting with '#' (never a Clover
 * merchant id, and skipped by the merchant listing): invites, and the states already used.
 */
const INVITE_PREFIX = '#invite#';
const STATE_PREFIX = '#oauth-state#';
/** Records are left for DynamoDB's TTL this long after they stop mattering (they are tiny). */
const KEEP_AFTER_MS = 30 * 86_400_000;

const ttl = (ms: number) => Math.ceil((ms + KEEP_AFTER_MS) / 1000);

export interface InviteStore {
  create(invite: Invite): Promise<void>;
  get(key: string): Promise<Invite | undefined>;
  /**
   * Holds an unused, unexpired invite for one finishing sign-in (`nonce`) until `until`, unless
   * another live claim holds it. False when it cannot be had.
   */
  claim(key: string, nonce: string, now: number, until: number): Promise<boolean>;
  /** Lets the invite go again after a sign-in that did not connect (only the claim's own holder). */
  release(key: string, nonce: string): Promise<void>;
  /** Marks the invite used by `merchantId`; false when the claim was no longer `nonce`'s. */
  complete(key: string, nonce: string, merchantId: string, now: number): Promise<boolean>;
}

export interface StateLedger {
  /** Records that a state was used; false when it had been used before (a replay). */
  recordUse(nonce: string, expiresAt: number, now: number): Promise<boolean>;
}

export function createInviteStore(doc: DynamoDBDocumentClient, tableName: string): InviteStore {
  const keyOf = (key: string) => ({ merchantId: `${INVITE_PREFIX}${key}` });
  return {
    async create(invite) {
      await doc.send(
        new PutCommand({
          TableName: tableName,
          Item: { ...keyOf(invite.key), ...invite, [MERCHANTS_TABLE_TTL_ATTRIBUTE]: ttl(invite.expiresAt) },
          ConditionExpression: 'attribute_not_exists(merchantId)',
        }),
      );
    },

    async get(key) {
      const out = await doc.send(
        new GetCommand({ TableName: tableName, Key: keyOf(key), ConsistentRead: true }),
      );
      if (!out.Item) return undefined;
      const parsed = InviteSchema.safeParse(out.Item);
      return parsed.success ? parsed.data : undefined;
    },

    claim(key, nonce, now, until) {
      return writeIf(
        doc,
        new UpdateCommand({
          TableName: tableName,
          Key: keyOf(key),
          UpdateExpression: 'SET claimedBy = :n, claimedUntil = :until',
          ConditionExpression:
            'attribute_exists(merchantId) AND attribute_not_exists(usedAt) AND expiresAt > :now AND ' +
            '(attribute_not_exists(claimedUntil) OR claimedUntil <= :now)',
          ExpressionAttributeValues: { ':n': nonce, ':until': until, ':now': now },
        }),
      );
    },

    async release(key, nonce) {
      await writeIf(
        doc,
        new UpdateCommand({
          TableName: tableName,
          Key: keyOf(key),
          UpdateExpression: 'REMOVE claimedBy, claimedUntil',
          ConditionExpression: 'claimedBy = :n AND attribute_not_exists(usedAt)',
          ExpressionAttributeValues: { ':n': nonce },
        }),
      );
    },

    complete(key, nonce, merchantId, now) {
      return writeIf(
        doc,
        new UpdateCommand({
          TableName: tableName,
          Key: keyOf(key),
          UpdateExpression: 'SET usedAt = :now, usedBy = :m REMOVE claimedBy, claimedUntil',
          ConditionExpression: 'claimedBy = :n AND attribute_not_exists(usedAt)',
          ExpressionAttributeValues: { ':n': nonce, ':m': merchantId, ':now': now },
        }),
      );
    },
  };
}

export function createStateLedger(doc: DynamoDBDocumentClient, tableName: string): StateLedger {
  return {
    recordUse(nonce, expiresAt, now) {
      // An update rather than a put, so the web function needs no PutItem on the merchants table.
      return writeIf(
        doc,
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId: `${STATE_PREFIX}${nonce}` },
          UpdateExpression: 'SET usedAt = :now, expiresAt = :e, #ttl = :ttl',
          ConditionExpression: 'attribute_not_exists(merchantId)',
          ExpressionAttributeNames: { '#ttl': MERCHANTS_TABLE_TTL_ATTRIBUTE },
          ExpressionAttributeValues: { ':now': now, ':e': expiresAt, ':ttl': ttl(expiresAt) },
        }),
      );
    },
  };
}
