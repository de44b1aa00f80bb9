// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/// <reference path="./alga-extension-types.d.ts" />
declare module 'alga:extension/invoicing@0.3.0' {
  export function createManualInvoice(input: CreateManualInvoiceInput): CreateManualInvoiceResult;
  export type CreateManualInvoiceInput = import('alga:extension/types@0.3.0').CreateManualInvoiceInput;
  export type CreateManualInvoiceResult = import('alga:extension/types@0.3.0').CreateManualInvoiceResult;
}
