// Every workflow of Ledgerbridge; the worker bundles this file.
export * from './order-to-cash';
export * from './refund';
export * from './settlement-reconciliation';
