import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct, type IConstruct } from 'constructs';
import { MERCHANTS_TABLE_KEYS, PRODUCTS_TABLE_KEYS } from '../src/store/tables.ts';

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
      description: 'esl-sync: encrypts merchant OAuth tokens, product state and the app secret',
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
    });
    this.products = new Table(this, 'Products', {
      ...common,
      partitionKey: { name: PRODUCTS_TABLE_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: PRODUCTS_TABLE_KEYS.sortKey, type: AttributeType.STRING },
    });
  }

  /**
   * Lets a function read and write the given tables. Writing needs the key's data-key and
   * re-encrypt operations, which CDK grants as wildcards; they are accepted here, beside their cause.
   */
  grantReadWrite(grantee: IGrantable & IConstruct, ...tables: Table[]) {
    // The acknowledgement below speaks for this key only, so only this construct's tables qualify.
    if (tables.length === 0 || !tables.every((t) => t === this.merchants || t === this.products)) {
      throw new Error('SyncState.grantReadWrite takes one or more of its own tables');
    }
    for (const table of tables) table.grantReadWriteData(grantee);
    const wildcards = {
      'kms:GenerateDataKey*': 'GenerateDataKey and its WithoutPlaintext and Pair variants',
      'kms:ReEncrypt*': 'ReEncryptFrom and ReEncryptTo',
    };
    for (const [action, matches] of Object.entries(wildcards)) {
      Validations.of(grantee).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Action::${action}]`,
        reason: `CDK's DynamoDB grant: ${action} matches only ${matches}, on our own state key alone.`,
      });
    }
  }
}
