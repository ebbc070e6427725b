import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { Config } from '../config';
import { dataConverterFor } from '../codec';

type TemporalSettings = Pick<
  Config,
  | 'TEMPORAL_NAMESPACE'
  | 'TEMPORAL_TLS'
  | 'TEMPORAL_TLS_CERT_FILE'
  | 'TEMPORAL_TLS_KEY_FILE'
  | 'TEMPORAL_TLS_CA_FILE'
  | 'TEMPORAL_TLS_SERVER_NAME'
  | 'TEMPORAL_API_KEY'
>;

/** Connection options for a dev server, a self-hosted cluster with mTLS, or Temporal Cloud with an API key. */
export function connectionOptions(address: string, cfg: Partial<TemporalSettings>) {
  const useTls = cfg.TEMPORAL_TLS || !!cfg.TEMPORAL_TLS_CERT_FILE || !!cfg.TEMPORAL_API_KEY;
  const tls = useTls
    ? {
        serverNameOverride: cfg.TEMPORAL_TLS_SERVER_NAME,
        serverRootCACertificate: cfg.TEMPORAL_TLS_CA_FILE ? readFileSync(cfg.TEMPORAL_TLS_CA_FILE) : undefined,
        clientCertPair:
          cfg.TEMPORAL_TLS_CERT_FILE && cfg.TEMPORAL_TLS_KEY_FILE
            ? { crt: readFileSync(cfg.TEMPORAL_TLS_CERT_FILE), key: readFileSync(cfg.TEMPORAL_TLS_KEY_FILE) }
            : undefined,
      }
    : undefined;
  return {
    address,
    tls,
    apiKey: cfg.TEMPORAL_API_KEY,
    metadata: cfg.TEMPORAL_API_KEY ? { 'temporal-namespace': cfg.TEMPORAL_NAMESPACE ?? 'default' } : undefined,
  };
}

/** A client on the configured namespace; payloads are encrypted when LB_PAYLOAD_KEY is set. */
export async function connectClient(
  address: string,
  cfg: Partial<TemporalSettings> &
    Partial<Pick<Config, 'LB_PAYLOAD_KEY' | 'LB_PAYLOAD_KEY_ID' | 'LB_PAYLOAD_OLD_KEYS'>> = {},
): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(address, cfg) as ConnectionOptions);
  return new Client({
    connection,
    namespace: cfg.TEMPORAL_NAMESPACE ?? 'default',
    dataConverter: dataConverterFor(cfg),
  });
}

export async function connectNative(address: string, cfg: Partial<TemporalSettings> = {}): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(address, cfg) as NativeConnectionOptions);
}

/** Resolves once the namespace answers, retrying with backoff; throws a clear error after `timeoutMs`. */
export async function waitForTemporal(
  address: string,
  cfg: Partial<TemporalSettings> = {},
  opts: { timeoutMs?: number; say?: (m: string) => void } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  const namespace = cfg.TEMPORAL_NAMESPACE ?? 'default';
  let delay = 200;
  let lastError = '';
  let attempt = 0;
  while (Date.now() < deadline) {
    attempt++;
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({
        ...(connectionOptions(address, cfg) as ConnectionOptions),
        connectTimeout: 2000,
      });
      await connection.workflowService.describeNamespace({ namespace });
      return;
    } catch (e) {
      lastError = (e as Error).message;
      if (attempt === 1 || attempt % 10 === 0) opts.say?.(`waiting for Temporal at ${address} (${lastError})`);
    } finally {
      await connection?.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 2000);
  }
  throw new Error(`Temporal at ${address} (namespace ${namespace}) did not answer: ${lastError}`);
}
