import { scrubText } from './card-data';
import { keptFieldNames, scrubByName } from './card-data-fields';
import { orderInputSchema, refundInputSchema } from './orders';

/**
 * The field names that hold ids, references, amounts or contact keys in Ledgerbridge's own records: those the flow
 * input schemas mark, plus the ids Ledgerbridge and the external systems assign (workflow and run ids, idempotency
 * keys, ERP and Heartland document ids) that activities pass around.
 */
export const OWN_ID_FIELDS: ReadonlySet<string> = new Set([
  ...keptFieldNames(orderInputSchema, refundInputSchema),
  'workflowId',
  'runId',
  'parentWorkflowId',
  'businessKey',
  'idempotencyKey',
  'eventId',
  'deadLetterId',
  'batchId',
  'erpId',
  'customerErpId',
  'salesOrderErpId',
  'invoiceErpId',
  'creditMemoErpId',
  'erpJournalId',
  'externalId',
  'externalRef',
  'sourceId',
  'targetId',
  'transactionId',
  'parentTransactionId',
  'refundTransactionId',
  'fulfilmentId',
]);

/**
 * A record of Ledgerbridge's own (a dead letter's input and context, a log line's fields) with card data removed:
 * the id fields above kept, every other string scrubbed as free text.
 */
export function scrubOwnRecord<T>(value: T): T {
  return typeof value === 'string' ? (scrubText(value) as T) : scrubByName(value, OWN_ID_FIELDS);
}
