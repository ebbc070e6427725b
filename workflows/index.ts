// Every workflow of Ledgerbridge; the worker bundles this file.
export {};
