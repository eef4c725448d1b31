import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
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
}
