// The ops API: routes, schemas, auth and the service behind them.
export { opsRouter, OPS_ROUTES, type OpsDeps, type OpsOptions } from './routes';
export { createApiKey, revokeApiKey, listApiKeys, hashKey, roleAllows, type Principal } from './auth';
export { registerOpsMetrics, TEMPORAL_SDK_METRICS } from './metrics';
