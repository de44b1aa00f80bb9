const decoder = new TextDecoder();

/** Read helpers shared by HTTP responses, storage entries and UI-proxy results. */
export interface BodyReader {
  bytes(): Uint8Array;
  text(): string;
  json<T = unknown>(): T;
}

export function bodyReader(bytes: Uint8Array | undefined): BodyReader {
  const data = bytes ?? new Uint8Array(0);
  return {
    bytes: () => data,
    text: () => decoder.decode(data),
    json: <T>() => JSON.parse(decoder.decode(data)) as T,
  };
}

const encoder = new TextEncoder();

/** Strings go as UTF-8, bytes as they are, anything else as JSON. */
export function encodeValue(value: unknown): { bytes: Uint8Array; json: boolean } {
  if (value instanceof Uint8Array) return { bytes: value, json: false };
  if (value instanceof ArrayBuffer) return { bytes: new Uint8Array(value), json: false };
  if (typeof value === 'string') return { bytes: encoder.encode(value), json: false };
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('The value cannot be encoded as JSON.');
  return { bytes: encoder.encode(text), json: true };
}
