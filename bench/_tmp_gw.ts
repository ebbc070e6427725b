import { createDb } from '../src/db';
import { createApp } from '../src/gateway/app';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
const db = createDb(process.env.DATABASE_URL!, { poolMax: 12 });
const app = createApp({ db, temporal: {} as any, namespace: 'default', logger: createLogger({ level: 'warn' }), config: loadConfig({ LB_MODE: 'sandbox' }) });
const s = app.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${(s.address() as any).port}`));
process.on('SIGINT', () => process.exit(0));
