import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { migrationNames } from '../../src/db/migrations';

const dir = path.join(__dirname, '..', '..', 'src', 'db', 'migrations');

/** Every module a file imports: static and type imports, re-exports, dynamic import() and require(). */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(path.join(dir, file), 'utf8'), true, true);
  return info.importedFiles.map((f) => f.fileName);
}

describe('migrations', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));

  test('a migration imports nothing but knex: its seed data is its own, never runtime code', () => {
    const migrations = files.filter((f) => f !== 'index.ts');
    expect(migrations.length).toBeGreaterThan(4);
    for (const file of migrations) expect({ file, imports: importsOf(file) }).toEqual({ file, imports: ['knex'] });
  });

  test('the migration list imports only knex and the migration files beside it, and lists each of them', () => {
    const local = files.filter((f) => f !== 'index.ts').map((f) => `./${f.replace(/\.ts$/, '')}`);
    const imports = importsOf('index.ts');
    expect(imports.filter((i) => i !== 'knex').sort()).toEqual(local.sort());
    expect(migrationNames()).toEqual(local.map((l) => l.slice(2)).sort());
  });
});
