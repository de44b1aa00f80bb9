/**
 * Secret handles at egress: finding the execution's handles in an outbound
 * request, checking the hop's destination against each secret's `egress`
 * hosts, putting the values in their place, and masking any echo of a value
 * in the response before the guest sees it.
 */
import { canonicalHandle, egressAllows, SECRET_HANDLE_PATTERN } from '@alga-psa/protocol';
import type { HttpResponse } from '../../../generated/interfaces/alga-extension-types.js';
import type { ExecutionScope } from '../../host-calls/index.ts';
import { secretHandles, type SecretHandle } from '../../host-calls/secret-handles.ts';
import { maskSecrets, REDACTED, secretForms } from '../../redact.ts';

/** A request as the guest wrote it (handles in place), for one hop. */
export interface RequestTemplate {
  url: URL;
  headers: Array<[string, string]>;
  body: Uint8Array | undefined;
}

/** Bytes as a string with one character per byte, so a regex or `split` works on binary bodies. */
const latin1 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');

/** This execution's handles that `template` carries anywhere (URL, header values, body). */
export function handlesIn(scope: ExecutionScope, template: RequestTemplate): SecretHandle[] {
  const registry = scope.state(secretHandles);
  if (registry.size === 0) return [];
  const found = new Map<string, SecretHandle>();
  const scan = (text: string) => {
    for (const match of text.matchAll(SECRET_HANDLE_PATTERN)) {
      const handle = registry.get(canonicalHandle(match[0]));
      if (handle) found.set(handle.handle, handle);
    }
  };
  scan(template.url.href);
  for (const [, value] of template.headers) scan(value);
  if (template.body) scan(latin1(template.body));
  return [...found.values()];
}

/** The first handle whose secret may not go to `url` (scheme, host and port must be one of its `egress` entries). */
export function refusedHandle(handles: readonly SecretHandle[], url: URL): SecretHandle | undefined {
  return handles.find((handle) => !egressAllows(handle.hosts, url));
}

/**
 * The request with every handle replaced by its value (percent-encoded in
 * the URL), or the key of a secret that could not be read. Values are added
 * to `sent` so the response can be masked.
 */
export async function substitute(
  template: RequestTemplate,
  handles: readonly SecretHandle[],
  sent: Set<string>,
): Promise<RequestTemplate | { unreadable: string }> {
  if (handles.length === 0) return template;
  const values = new Map<string, string>();
  for (const handle of handles) {
    const value = await handle.resolve();
    if (value === undefined) return { unreadable: handle.key };
    values.set(handle.handle, value);
    sent.add(value);
  }
  // A percent-encoded handle (`%3A`) takes the percent-encoded value; in the URL, every value is percent-encoded.
  const put = (text: string, inUrl: boolean, raw: (value: string) => string) =>
    text.replace(SECRET_HANDLE_PATTERN, (match) => {
      const value = values.get(canonicalHandle(match));
      if (value === undefined) return match;
      return inUrl || match.includes('%') ? raw(encodeURIComponent(value)) : raw(value);
    });
  const url = new URL(put(template.url.href, true, (v) => v));
  const headers = template.headers.map(([name, value]): [string, string] => [name, put(value, false, (v) => v)]);
  const toLatin1 = (value: string) => Buffer.from(value, 'utf8').toString('latin1');
  const body = template.body ? Buffer.from(put(latin1(template.body), false, toLatin1), 'latin1') : undefined;
  return { url, headers, body };
}

/** Every form of every value in `sent`, as latin1 strings, longest first. */
function byteForms(sent: ReadonlySet<string>): string[] {
  const forms = [...sent].flatMap(secretForms).map((form) => Buffer.from(form, 'utf8').toString('latin1'));
  return [...new Set(forms)].sort((a, b) => b.length - a.length);
}

/** The response with every echo of a sent value (plain or in the common encodings) replaced by `[REDACTED]`. */
export function maskResponse(response: HttpResponse, sent: ReadonlySet<string>): HttpResponse {
  if (sent.size === 0) return response;
  const forms = byteForms(sent);
  const mask = (text: string) => {
    let out = text;
    for (const form of forms) if (out.includes(form)) out = out.split(form).join(REDACTED);
    return out;
  };
  // A header value may have been decoded as latin1 or as UTF-8: mask both spellings.
  const headers = response.headers.map((header) => ({
    name: header.name,
    value: maskSecrets(mask(header.value), sent),
  }));
  const body = response.body ? new Uint8Array(Buffer.from(mask(latin1(response.body)), 'latin1')) : undefined;
  return { status: response.status, headers, body };
}
