import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ignore from '@balena/dockerignore';
import { DockerfileParser, type Copy, type Instruction } from 'dockerfile-ast';
import ts from 'typescript';
import { parse } from 'yaml';

/**
 * The production image, checked without a Docker engine: the Dockerfile (parsed), its build context (the repository
 * filtered by .dockerignore, as Docker filters it) and what tsconfig.build.json compiles (the TypeScript program).
 * The simulators (src/sandbox), the tests and the benchmarks never reach the image.
 */

const root = path.join(__dirname, '..', '..');
const read = (f: string) => readFileSync(path.join(root, f), 'utf8');
const DEV_ONLY = [
  /^src\/sandbox\//,
  /^test\//,
  /^bench\//,
  /^src\/runtime\/start\.ts$/,
  /^src\/cli\/sandbox-command\.ts$/,
];
const devOnly = (f: string) => DEV_ONLY.some((r) => r.test(f));

interface Stage {
  name: string | null;
  instructions: Instruction[];
}

function stages(): Stage[] {
  const out: Stage[] = [];
  for (const i of DockerfileParser.parse(read('Dockerfile')).getInstructions()) {
    if (i.getKeyword() === 'FROM') {
      const name = i.getArguments()[2]?.getValue() ?? null; // FROM image AS name
      out.push({ name, instructions: [] });
    } else out[out.length - 1].instructions.push(i);
  }
  return out;
}

/** The repository's files (tracked and untracked, not ignored by git) that Docker sends as the build context. */
function buildContext(): string[] {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);
  return ignore().add(read('.dockerignore')).filter(files);
}

/** The source files of the production build (tsconfig.build.json), relative to the root, outside node_modules. */
function productionProgram(): string[] {
  const configFile = path.join(root, 'tsconfig.build.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configFile,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  )!;
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  return program
    .getSourceFiles()
    .map((s) => path.relative(root, s.fileName))
    .filter((f) => !f.startsWith('node_modules/') && !f.startsWith('..'));
}

describe('the production image (Dockerfile, .dockerignore and tsconfig.build.json, parsed)', () => {
  const program = productionProgram();
  const context = new Set(buildContext());

  test('the build context holds no simulator, test or benchmark, and every file the build compiles', () => {
    expect([...context].filter(devOnly)).toEqual([]);
    expect(context.has('src/sandbox/index.ts')).toBe(false);
    expect(program.length).toBeGreaterThan(50);
    expect(program.filter((f) => !context.has(f))).toEqual([]);
  });

  test('the production build never compiles the simulators: no production module imports them', () => {
    expect(program.filter(devOnly)).toEqual([]);
    for (const entry of ['workers/main.ts', 'src/gateway/main.ts', 'src/cli/main.ts', 'workflows/index.ts']) {
      expect(program).toContain(entry);
    }
  });

  test('whatever the program loads by path at run time (require.resolve) is compiled too', () => {
    for (const file of program) {
      for (const m of read(file).matchAll(/require\.resolve\('(\.{1,2}\/[^']+)'\)/g)) {
        const target = path.relative(root, path.resolve(path.dirname(path.join(root, file)), m[1]));
        expect({
          file,
          loads: target,
          compiled: [`${target}.ts`, `${target}/index.ts`].some((t) => program.includes(t)),
        }).toEqual({ file, loads: target, compiled: true });
      }
    }
  });

  test('the build stage compiles tsconfig.build.json; the final stage takes only its output and dependencies', () => {
    const all = stages();
    expect(all.length).toBeGreaterThanOrEqual(2);
    const build = all[0];
    expect(build.name).toBe('build');
    const runs = build.instructions.filter((i) => i.getKeyword() === 'RUN').map((i) => i.getArgumentsContent());
    expect(runs.some((r) => /\btsc -p tsconfig\.build\.json\b/.test(r ?? ''))).toBe(true);
    expect(runs.some((r) => /npm prune --omit=dev/.test(r ?? ''))).toBe(true);

    const final = all[all.length - 1];
    const copies = final.instructions.filter((i): i is Copy => i.getKeyword() === 'COPY' || i.getKeyword() === 'ADD');
    expect(copies.length).toBeGreaterThan(0);
    const shipped: string[] = [];
    for (const c of copies) {
      expect(c.getKeyword()).toBe('COPY');
      expect(c.getFromFlag()?.getValue()).toBe('build');
      const args = c.getArguments().map((a) => a.getValue());
      shipped.push(...args.slice(0, -1));
    }
    expect(shipped.sort()).toEqual(['/app/dist', '/app/node_modules', '/app/package-lock.json', '/app/package.json']);
  });

  test('the compose services run entry points that the production build compiles', () => {
    const compose = parse(read('docker-compose.yml'), { merge: true }) as {
      services: Record<string, { build?: string; command?: string[] }>;
    };
    const built = Object.values(compose.services).filter((s) => s.build === '.');
    expect(built.length).toBe(2);
    for (const s of built) {
      const entry = s.command!.find((a) => a.startsWith('dist/'))!;
      expect(program).toContain(entry.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
    }
  });
});
