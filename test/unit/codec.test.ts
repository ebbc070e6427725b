import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import {
  AesGcmPayloadCodec,
  codecFor,
  dataConverterFor,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  parseKeyList,
  PayloadDecryptError,
} from '../../src/codec';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };
const text = (b?: Uint8Array | null) => Buffer.from(b ?? new Uint8Array()).toString('utf8');
const payload = (v: unknown): Payload => defaultPayloadConverter.toPayload(v)!;

describe('AesGcmPayloadCodec', () => {
  test('encrypts metadata and data, labels the key id, and decodes back to the same payload', async () => {
    const codec = new AesGcmPayloadCodec(k1);
    const original = payload({ customer: 'Ada Lovelace', email: 'ada@example.com' });
    const [enc] = await codec.encode([original]);
    expect(text(enc.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(enc.metadata![KEY_ID_METADATA])).toBe('k1');
    expect(Object.keys(enc.metadata!).sort()).toEqual(['encoding', KEY_ID_METADATA].sort());
    expect(Buffer.from(enc.data!).toString('latin1')).not.toMatch(/Ada|ada@|json\/plain/);
    const [dec] = await codec.decode([enc]);
    expect(defaultPayloadConverter.fromPayload(dec)).toEqual({ customer: 'Ada Lovelace', email: 'ada@example.com' });
    expect(text(dec.metadata!.encoding)).toBe('json/plain');
  });

  test('each encryption uses a fresh IV: the same payload never encrypts to the same bytes', async () => {
    const codec = new AesGcmPayloadCodec(k1);
    const p = payload('same');
    const [a, b] = await codec.encode([p, p]);
    expect(Buffer.from(a.data!).equals(Buffer.from(b.data!))).toBe(false);
    expect((await codec.decode([a, b])).map((x) => defaultPayloadConverter.fromPayload(x))).toEqual(['same', 'same']);
  });

  test('key rotation: new payloads use the current key, old ones still open with a previous key', async () => {
    const before = new AesGcmPayloadCodec(k1);
    const after = new AesGcmPayloadCodec(k2, [k1]);
    const [old] = await before.encode([payload({ n: 1 })]);
    const [fresh] = await after.encode([payload({ n: 2 })]);
    expect(text(fresh.metadata![KEY_ID_METADATA])).toBe('k2');
    expect((await after.decode([old, fresh])).map((x) => defaultPayloadConverter.fromPayload(x))).toEqual([
      { n: 1 },
      { n: 2 },
    ]);
    expect(after.keyIds).toEqual(['k2', 'k1']);
    await expect(before.decode([fresh])).rejects.toThrow(PayloadDecryptError);
    await expect(new AesGcmPayloadCodec(k2).decode([old])).rejects.toThrow(/no payload key with id "k1"/);
  });

  test('tampered data, a relabelled key id and truncation fail authentication', async () => {
    const codec = new AesGcmPayloadCodec(k1, [{ id: 'k1-copy', key: k1.key }]);
    const [enc] = await codec.encode([payload('secret')]);
    const flipped = Buffer.from(enc.data!);
    flipped[20] ^= 1;
    await expect(codec.decode([{ ...enc, data: flipped }])).rejects.toThrow(/failed authentication/);
    const relabelled = { ...enc, metadata: { ...enc.metadata, [KEY_ID_METADATA]: Buffer.from('k1-copy') } };
    await expect(codec.decode([relabelled])).rejects.toThrow(/failed authentication with key k1-copy/);
    await expect(codec.decode([{ ...enc, data: Buffer.from(enc.data!).subarray(0, 20) }])).rejects.toThrow(/truncated/);
  });

  test('payloads that are not encrypted pass through decode untouched', async () => {
    const codec = new AesGcmPayloadCodec(k1);
    const p = payload({ plain: true });
    expect(await codec.decode([p])).toEqual([p]);
    expect(await codec.encode([])).toEqual([]);
  });

  test('keys must be 32 bytes with an id', () => {
    expect(() => new AesGcmPayloadCodec({ id: 'short', key: randomBytes(16) })).toThrow(/32 bytes/);
    expect(() => new AesGcmPayloadCodec({ id: '', key: randomBytes(32) })).toThrow(/id/);
  });
});

describe('configuration', () => {
  test('encryption is off without LB_PAYLOAD_KEY and on with it', async () => {
    expect(codecFor({})).toBeUndefined();
    expect(dataConverterFor({})).toEqual({});
    const cfg = { LB_PAYLOAD_KEY: k2.key.toString('base64'), LB_PAYLOAD_KEY_ID: 'k2' };
    const dc = dataConverterFor(cfg);
    expect(dc.payloadCodecs).toHaveLength(1);
    const { failureConverter } = (await import(
      dc.failureConverterPath!
    )) as typeof import('../../src/codec/failure-converter');
    expect(failureConverter.options.encodeCommonAttributes).toBe(true);
    const [enc] = await dc.payloadCodecs![0].encode([payload('x')]);
    expect(text(enc.metadata![KEY_ID_METADATA])).toBe('k2');
    expect(await new AesGcmPayloadCodec(k2).decode([enc])).toEqual([payload('x')]);
  });

  test('previous keys are read from `id:base64,id:base64`', async () => {
    const old = await new AesGcmPayloadCodec(k1).encode([payload('old')]);
    const codec = codecFor({
      LB_PAYLOAD_KEY: k2.key.toString('base64'),
      LB_PAYLOAD_KEY_ID: 'k2',
      LB_PAYLOAD_OLD_KEYS: ` k1:${k1.key.toString('base64')} , k0:${randomBytes(32).toString('base64')}`,
    })!;
    expect(codec.keyIds).toEqual(['k2', 'k1', 'k0']);
    expect(defaultPayloadConverter.fromPayload((await codec.decode(old))[0])).toBe('old');
    expect(() => parseKeyList('nokey')).toThrow(/id:base64/);
    expect(() => parseKeyList(`k1:${randomBytes(8).toString('base64')}`)).toThrow(/32 bytes/);
    expect(parseKeyList(undefined)).toEqual([]);
  });
});
