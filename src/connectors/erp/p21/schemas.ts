import { z } from 'zod';

/**
 * Response shapes of the P21 APIs the adapter reads. Objects are not strict: P21 adds columns between releases, and
 * only a missing or retyped field that we use is a SchemaMismatch.
 */

const id = z.union([z.string(), z.number()]).transform(String);
/** Edm.Decimal: a string under IEEE754Compatible=true (what we ask for), a number from servers that ignore it. */
export const decimal = z.union([z.string(), z.number()]).transform(String);
const yn = z.enum(['Y', 'N']);

export const tokenResponse = z.object({
  AccessToken: z.string().min(1),
  RefreshToken: z.string().nullish(),
  ExpiresInSeconds: z.number().positive(),
  TokenType: z.string().nullish(),
});

export const routerResponse = z.object({ Url: z.string().min(1) });

export function odataPage<T extends z.ZodType>(row: T) {
  return z.object({ value: z.array(row), '@odata.nextLink': z.string().nullish() });
}

export const customerRow = z.object({
  CustomerID: id,
  CustomerName: z.string(),
  EmailAddress: z.string().nullable(),
  PhoneNumber: z.string().nullable(),
  WebReferenceNo: z.string().nullable(),
  DeleteFlag: yn.optional(),
});
export type CustomerRow = z.infer<typeof customerRow>;

export const orderRow = z.object({
  OrderNo: id,
  WebReferenceNo: z.string().nullable(),
  CancelFlag: yn,
  Completed: yn,
  Status: z.string().nullish(),
});
export type OrderRow = z.infer<typeof orderRow>;

export const invoiceRow = z.object({
  InvoiceNo: id,
  WebReferenceNo: z.string().nullable(),
  Approved: yn,
  Reversed: yn,
  Status: z.string().nullish(),
});
export type InvoiceRow = z.infer<typeof invoiceRow>;

export const receiptRow = z.object({
  ReceiptNo: id,
  CustomerID: id,
  InvoiceNo: id,
  PaymentAmount: decimal,
  PaymentDate: z.string(),
  PaymentTypeID: z.string(),
  CheckNo: z.string().nullable(),
  WebReferenceNo: z.string().nullable(),
  CurrencyID: z.string(),
  Voided: yn,
  Status: z.string().nullish(),
});
export type ReceiptRow = z.infer<typeof receiptRow>;

export const memoRow = z.object({
  MemoNo: id,
  WebReferenceNo: z.string().nullable(),
  Approved: yn,
  CancelFlag: yn,
  Status: z.string().nullish(),
});
export type MemoRow = z.infer<typeof memoRow>;

export const journalRow = z.object({
  JournalNo: id,
  JournalRef: z.string(),
  Reversed: yn,
  ReversalOf: id.nullable(),
  Status: z.string().nullish(),
});
export type JournalRow = z.infer<typeof journalRow>;

export const invLocRow = z.object({ PartNum: z.string(), LocationID: id, OnHandQty: z.number() });

export const partRow = z.object({
  PartNum: z.string(),
  ItemDesc: z.string(),
  Price: decimal,
  UnitOfMeasure: z.string().nullish(),
  CurrencyID: z.string().nullish(),
});

export const adjustmentRow = z.object({ AdjustmentNo: id, AdjustmentRef: z.string().nullable() });

export const salesOrderEntity = z.object({
  OrderNo: id,
  CancelFlag: yn,
  Completed: yn,
  Status: z.string().nullish(),
});

const edit = z.object({ Name: z.string(), Value: z.unknown() });

export const transactionResponse = z.object({
  Messages: z.array(z.string()).nullish(),
  Results: z.object({
    Name: z.string().nullish(),
    Transactions: z.array(
      z.object({
        Status: z.string(),
        DataElements: z
          .array(
            z.object({
              Name: z.string(),
              Type: z.string().nullish(),
              Keys: z.array(z.string()).nullish(),
              Rows: z.array(z.object({ Edits: z.array(edit) })),
            }),
          )
          .nullish(),
      }),
    ),
  }),
  Summary: z.object({ Succeeded: z.number(), Failed: z.number(), Other: z.number().nullish() }),
});
export type TransactionResponse = z.infer<typeof transactionResponse>;
