import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { configSchema, SECRET_KEYS } from '../../src/config';
import { SEARCH_ATTRIBUTE_ARGS } from '../../workflows/definitions';

const root = path.join(__dirname, '..', '..');
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<
    string,
    {
      image?: string;
      build?: string;
      command?: string[];
      environment?: Record<string, string>;
      depends_on?: Record<string, { condition: string }>;
      healthcheck?: { test: string[] };
      secrets?: string[];
    }
  >;
  secrets: Record<string, { file: string }>;
};
const settings = new Set(Object.keys(configSchema.shape));
const secretFiles = new Set(SECRET_KEYS.map((k) => `${k}_FILE`));

describe('docker-compose.yml (parsed; images cannot be pulled here)', () => {
  test('has the production-like services', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ['gateway', 'postgres', 'temporal', 'temporal-setup', 'temporal-ui', 'worker'].sort(),
    );
  });

  test.each(['worker', 'gateway'])('every variable of %s is a config setting (or the _FILE of a secret)', (name) => {
    const env = compose.services[name].environment ?? {};
    expect(Object.keys(env).length).toBeGreaterThan(5);
    for (const key of Object.keys(env)) {
      expect({ key, known: settings.has(key) || secretFiles.has(key) }).toEqual({ key, known: true });
    }
    for (const s of compose.services[name].secrets ?? []) expect(compose.secrets[s]).toBeDefined();
  });

  test('services start in dependency order, waiting for health', () => {
    const dep = (svc: string) => compose.services[svc].depends_on ?? {};
    expect(dep('temporal').postgres.condition).toBe('service_healthy');
    for (const svc of ['worker', 'gateway']) {
      expect(dep(svc).postgres.condition).toBe('service_healthy');
      expect(dep(svc).temporal.condition).toBe('service_healthy');
    }
    expect(dep('worker')['temporal-setup'].condition).toBe('service_completed_successfully');
    expect(dep('temporal-ui').temporal.condition).toBe('service_healthy');
    for (const svc of ['postgres', 'temporal', 'worker', 'gateway'])
      expect(compose.services[svc].healthcheck).toBeDefined();
  });

  test('worker and gateway are built from the Dockerfile and run files that the build produces', () => {
    expect(existsSync(path.join(root, 'Dockerfile'))).toBe(true);
    for (const svc of ['worker', 'gateway']) {
      expect(compose.services[svc].build).toBe('.');
      const entry = compose.services[svc].command![1]; // dist/<path>.js from tsc's outDir
      const source = entry.replace(/^dist\//, '').replace(/\.js$/, '.ts');
      expect(existsSync(path.join(root, source))).toBe(true);
    }
  });

  test('the search attributes registered for the cluster match the ones the workflows use', () => {
    const cmd = compose.services['temporal-setup'].command!.join(' ');
    for (const sa of SEARCH_ATTRIBUTE_ARGS) {
      const [name, type] = sa.split('=');
      expect(cmd).toContain(`--name ${name} --type ${type}`);
    }
  });
});
