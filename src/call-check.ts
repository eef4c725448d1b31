/** One AWS call about to be sent: its service, its action, and the tables, queues or secrets it names. */
export interface AwsCall {
  service: 'dynamodb' | 'sqs' | 'secretsmanager';
  /** The API action, e.g. `GetItem`, `SendMessageBatch`, `GetSecretValue`. */
  action: string;
  /** Table names, queue URLs or secret ids. */
  resources: readonly string[];
  /** The partition keys a single-item DynamoDB call names (IAM's `dynamodb:LeadingKeys`). */
  keys?: readonly string[];
}
type CallCheck = (call: AwsCall) => void;
let check: CallCheck | undefined;

/**
 * Where the local stack checks every call of the handlers against their function's grants, as IAM
 * does on AWS; nothing is checked unless it sets one.
 */
export function checkCalls(next: CallCheck | undefined) {
  check = next;
}

/** Middleware for an AWS client: tells each call to the check, if one is set, before it is sent. */
export const callCheck =
  (
    service: AwsCall['service'],
    resourcesOf: (input: Record<string, unknown>) => string[],
    keysOf: (input: Record<string, unknown>) => string[] = () => [],
  ) =>
  <A extends { input: unknown }, R>(next: (args: A) => Promise<R>, context: { commandName?: string }) =>
  async (args: A): Promise<R> => {
    const action = (context.commandName ?? '').replace(/Command$/, '');
    const input = args.input as Record<string, unknown>;
    check?.({ service, action, resources: resourcesOf(input), keys: keysOf(input) });
    return next(args);
  };
export const CALL_CHECK = { step: 'initialize', name: 'callCheck', override: true } as const;
