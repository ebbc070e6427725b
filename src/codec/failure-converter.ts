import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Used while payload encryption is on (also inside the workflow sandbox, through `failureConverterPath`): a failure's
 * message and stack trace travel as an encoded attribute, a payload the codec encrypts, because they can quote the
 * data that failed (a customer's name, an address).
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
