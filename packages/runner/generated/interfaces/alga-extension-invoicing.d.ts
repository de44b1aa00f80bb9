// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/** @module Interface alga:extension/invoicing@0.3.0 **/
export function createManualInvoice(input: CreateManualInvoiceInput): CreateManualInvoiceResult;
export type CreateManualInvoiceInput = import('./alga-extension-types.js').CreateManualInvoiceInput;
export type CreateManualInvoiceResult = import('./alga-extension-types.js').CreateManualInvoiceResult;
