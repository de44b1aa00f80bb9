/**
 * `alga:extension/invoicing`: linked so reference components run, never
 * provided (see ../not-provided.ts). Its one function answers a record, so it
 * refuses as the reference host does without the capability: `success: false`.
 */
import { defineNotProvided, notProvidedMessage } from '../not-provided.ts';

const error = notProvidedMessage('invoicing');

export const invoicingProvider = defineNotProvided('invoicing', {
  createManualInvoice: () => ({ success: false, error }),
});
