import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Config } from '../config';

/**
 * Workflow payload encryption: a Temporal PayloadCodec with AES-256-GCM. Each payload (metadata and data) is
 * serialised as a protobuf Payload and sealed with a fresh 96-bit IV; the result is `iv | ciphertext | tag` with
 * metadata `encoding: binary/encrypted` and `encryption-key-id: <id>`. The key id is also bound in as additional
 * authenticated data, so a payload relabelled with another key id fails to open. Decoding accepts every key of the
 * keyring (key rotation: new payloads use the current key, old histories still open with the previous ones).
 * Search attributes are not payloads of the data converter: they stay readable for visibility queries.
 */

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface CodecKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

export class PayloadDecryptError extends Error {
  override name = 'PayloadDecryptError';
}

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly current: CodecKey;
  private readonly keys = new Map<string, Buffer>();

  constructor(current: CodecKey, previous: CodecKey[] = []) {
    for (const k of [current, ...previous]) {
      if (k.key.length !== 32) throw new Error(`payload key ${k.id} must be 32 bytes, got ${k.key.length}`);
      if (!k.id) throw new Error('a payload key needs an id');
      if (!this.keys.has(k.id)) this.keys.set(k.id, k.key);
    }
    this.current = current;
  }

  /** Key ids this codec can decode. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const plain = temporal.api.common.v1.Payload.encode(p).finish();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.current.key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(this.current.id, 'utf8'));
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(this.current.id) },
        data: new Uint8Array(sealed),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (text(p.metadata?.encoding) !== ENCRYPTED_ENCODING) return p;
      const keyId = text(p.metadata?.[KEY_ID_METADATA]);
      const key = keyId === undefined ? undefined : this.keys.get(keyId);
      if (!key) throw new PayloadDecryptError(`no payload key with id ${JSON.stringify(keyId ?? null)} is configured`);
      const data = Buffer.from(p.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptError('encrypted payload is truncated');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(keyId!, 'utf8'));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new PayloadDecryptError(`encrypted payload failed authentication with key ${keyId}`);
      }
      const decoded = temporal.api.common.v1.Payload.decode(plain);
      return { metadata: decoded.metadata, data: decoded.data };
    });
  }
}

type PayloadKeySettings = Pick<Config, 'LB_PAYLOAD_KEY' | 'LB_PAYLOAD_KEY_ID'> & {
  /** Previous keys still accepted for decoding: `id:base64,id:base64` (not yet a config setting: see the report). */
  LB_PAYLOAD_OLD_KEYS?: string;
};

function decodeKey(id: string, base64: string): CodecKey {
  const key = Buffer.from(base64.trim(), 'base64');
  if (key.length !== 32) throw new Error(`payload key ${id}: must be 32 bytes, base64-encoded`);
  return { id, key };
}

/** Parses `id:base64,id:base64` into keys. */
export function parseKeyList(list: string | undefined): CodecKey[] {
  if (!list) return [];
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const i = entry.indexOf(':');
      if (i <= 0) throw new Error('payload keys must be written as id:base64');
      return decodeKey(entry.slice(0, i), entry.slice(i + 1));
    });
}

/** The payload codec of this deployment, or undefined when LB_PAYLOAD_KEY is not set (encryption off). */
export function codecFor(config: Partial<PayloadKeySettings>): AesGcmPayloadCodec | undefined {
  if (!config.LB_PAYLOAD_KEY) return undefined;
  const current = decodeKey(config.LB_PAYLOAD_KEY_ID ?? 'k1', config.LB_PAYLOAD_KEY);
  return new AesGcmPayloadCodec(current, parseKeyList(config.LB_PAYLOAD_OLD_KEYS));
}

/**
 * The data converter for clients and workers: payloads and failure messages encrypted when LB_PAYLOAD_KEY is set,
 * plain otherwise. A worker must bundle its workflows from `workflowsPath` for the failure converter to reach them.
 */
export function dataConverterFor(config: Partial<PayloadKeySettings>): DataConverter {
  const codec = codecFor(config);
  return codec ? { payloadCodecs: [codec], failureConverterPath: require.resolve('./failure-converter') } : {};
}
