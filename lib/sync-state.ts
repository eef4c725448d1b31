import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct, type IConstruct } from 'constructs';
import type { OWN_RECORDS, TABLE_ACCESS, TableAction } from '../src/grants.ts';
import {
  MERCHANTS_TABLE_KEYS,
  MERCHANTS_TABLE_TTL_ATTRIBUTE,
  PRODUCTS_TABLE_KEYS,
} from '../src/store/tables.ts';

/** A function's own record of the merchants table, and the calls it makes there. */
type OwnRecord = NonNullable<(typeof OWN_RECORDS)[keyof typeof OWN_RECORDS]>;

const WRITE_ACTIONS: ReadonlySet<TableAction> = new Set(['UpdateItem', 'PutItem', 'DeleteItem']);

/**
 * Where merchants (OAuth tokens, cursors, sync metadata) and product state live. Both tables are
 * encrypted with our own KMS key, because the merchants table holds Clover tokens; both are kept
 * when the stack is deleted, because losing tokens locks every store out until it re-authorizes.
 */
export class SyncState extends Construct {
  readonly key: Key;
  readonly merchants: Table;
  readonly products: Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.key = new Key(this, 'StateKey', {
      description: 'esl-sync: encrypts merchant OAuth tokens, product state and the secrets',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const common = {
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    };
    this.merchants = new Table(this, 'Merchants', {
      ...common,
      partitionKey: { name: MERCHANTS_TABLE_KEYS.partitionKey, type: AttributeType.STRING },
      // Expires the connect flow's invites and used states; merchant records never carry it.
      timeToLiveAttribute: MERCHANTS_TABLE_TTL_ATTRIBUTE,
    });
    this.products = new Table(this, 'Products', {
      ...common,
      partitionKey: { name: PRODUCTS_TABLE_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: PRODUCTS_TABLE_KEYS.sortKey, type: AttributeType.STRING },
    });
  }

  private readonly acknowledged = new Set<IConstruct>();

  /**
   * Grants a function the table calls its code path makes (TABLE_ACCESS), on both tables, and
   * those on its own record of the merchants table (OWN_RECORDS), on that record's key alone.
   */
  grantAccess(
    grantee: IGrantable & IConstruct,
    access: (typeof TABLE_ACCESS)[keyof typeof TABLE_ACCESS],
    own?: OwnRecord,
  ) {
    if (access.merchants.length > 0) this.grant(grantee, this.merchants, access.merchants);
    if (access.products.length > 0) this.grant(grantee, this.products, access.products);
    if (own)
      this.grant(grantee, this.merchants, own.actions, {
        'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [own.key] },
      });
  }

  /**
   * Lets a function make exactly these calls on one of our tables, with the key use they need.
   * Writes get the key's data-key and re-encrypt operations, as wildcards, like CDK's DynamoDB
   * write grants; they are accepted here, beside their cause (this key's tables only: the method is
   * private). Resources are named one by one: CDK's own table grant would add every index.
   */
  private grant(
    grantee: IGrantable & IConstruct,
    table: Table,
    actions: readonly TableAction[],
    conditions?: Record<string, unknown>,
  ) {
    const policy = (statement: PolicyStatement) => grantee.grantPrincipal.addToPrincipalPolicy(statement);
    policy(
      new PolicyStatement({
        actions: actions.map((a) => `dynamodb:${a}`),
        resources: [table.tableArn],
        ...(conditions ? { conditions } : {}),
      }),
    );
    const writes = actions.some((a) => WRITE_ACTIONS.has(a));
    // The key actions CDK's grantReadData / grantReadWriteData give.
    this.key.grant(
      grantee,
      ...(writes
        ? ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*']
        : ['kms:Decrypt', 'kms:DescribeKey']),
    );
    if (!writes || this.acknowledged.has(grantee)) return;
    this.acknowledged.add(grantee);
    const wildcards = {
      'kms:GenerateDataKey*': 'GenerateDataKey and its WithoutPlaintext and Pair variants',
      'kms:ReEncrypt*': 'ReEncryptFrom and ReEncryptTo',
    };
    // On the role whose policy holds them (a function given its own role has it beside itself).
    const role = grantee.grantPrincipal;
    const at = Construct.isConstruct(role) ? role : grantee;
    for (const [action, matches] of Object.entries(wildcards)) {
      Validations.of(at).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Action::${action}]`,
        reason: `Writing a table encrypted with our key (CDK's key actions for DynamoDB writers): ${action} matches only ${matches}, on our own state key alone.`,
      });
    }
  }
}
