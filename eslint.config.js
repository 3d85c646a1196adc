import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Escapes a string for use inside a RegExp. */
const escapeRegex = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Node's built-in modules by bare name (fs, path, fs/promises, ...); `node:*` is matched separately. */
const NODE_BUILTINS = builtinModules.filter((m) => !m.startsWith('_')).map(escapeRegex);

/**
 * What core/ may not import: it is the layer every process shares (browser tabs included), so no
 * Node built-ins, no transport, no database, no UI framework, and nothing from the layers above it.
 */
const CORE_IMPORT_PATTERNS = [
  { regex: '^node:', message: 'core/ also runs in browser tabs: no Node built-ins (node:*). Put Node-only code in coordinator/ or worker-node/.' },
  {
    regex: `^(${NODE_BUILTINS.join('|')})(/.*)?$`,
    message: 'core/ also runs in browser tabs: no Node built-ins. Put Node-only code in coordinator/ or worker-node/.',
  },
  {
    regex: '^socket\\.io(-client)?(/.*)?$',
    message: 'core/ is transport-free: Socket.io lives in coordinator/ and the transports (core/worker talks to a WorkerTransport).',
  },
  { regex: '^(@prisma/|prisma(/|$)|pg(/|$)|better-sqlite3(/|$))', message: 'core/ does not touch the database: Prisma and its drivers live in prisma/.' },
  {
    regex: '^(webgpu|@tensorflow/tfjs-node(-gpu)?)(/|$)',
    message: 'core/ is backend-agnostic: Node-only tfjs backends (Dawn webgpu, tfjs-node) are chosen in worker-node/backend.',
  },
  { regex: '^(next|react|react-dom)(/.*)?$', message: 'core/ is UI-free: Next.js and React live in app/.' },
  {
    regex: '(^|/)(coordinator|worker-node|app|prisma)(/|$)',
    message: 'core/ is the bottom layer: it imports nothing from coordinator/, worker-node/, app/ or prisma/.',
  },
];

/** Globals core/ may not use: the DOM's (core runs in Node too) and Node's (core runs in browsers too). */
const CORE_RESTRICTED_GLOBALS = [
  ...['window', 'document', 'navigator', 'localStorage', 'sessionStorage', 'location'].map((name) => ({
    name,
    message: `core/ also runs in Node: no DOM global '${name}'. Pass what is needed in from app/ or the caller.`,
  })),
  ...['process', 'Buffer', 'global', '__dirname', '__filename', 'require', 'setImmediate', 'clearImmediate'].map((name) => ({
    name,
    message: `core/ also runs in browser tabs: no Node global '${name}'.`,
  })),
];

/**
 * What the two rules above do not see: Node's types (no-restricted-globals checks values only),
 * dynamic `import()` of a Node built-in, and Node/DOM globals reached through `globalThis`.
 */
const CORE_RESTRICTED_SYNTAX = [
  {
    selector: `ImportExpression[source.value=/^(node:|(${NODE_BUILTINS.join('|')})(\\/|$))/]`,
    message: 'core/ also runs in browser tabs: no Node built-ins, not even through a dynamic import().',
  },
  {
    selector: "MemberExpression[object.name='globalThis'][property.name=/^(process|Buffer|require|global|window|document|navigator|localStorage|sessionStorage|location)$/]",
    message: 'core/ runs in Node and in browser tabs: no environment-specific globals, not even through globalThis.',
  },
  { selector: "TSQualifiedName[left.name='NodeJS']", message: "core/ also runs in browser tabs: no Node types (NodeJS.*); e.g. ReturnType<typeof setTimeout> for a timer." },
  { selector: "TSTypeReference > Identifier.typeName[name='Buffer']", message: 'core/ also runs in browser tabs: use Uint8Array, not the Node type Buffer.' },
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.next/**', 'prisma/generated/**', 'data/**', 'next-env.d.ts', 'public/**', 'bench/results/**', 'scripts/*.mjs', 'tests/chaos/support/*.mjs', '*.config.js', '*.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
    },
  },
  {
    // Module boundaries (docs/architecture.md): core/ is shared by every process.
    files: ['core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: CORE_IMPORT_PATTERNS }],
      'no-restricted-globals': ['error', ...CORE_RESTRICTED_GLOBALS],
      'no-restricted-syntax': ['error', ...CORE_RESTRICTED_SYNTAX],
    },
  },
  {
    // The wire contract depends on nothing else in core (this entry replaces core/'s for these files, so it repeats it).
    files: ['core/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...CORE_IMPORT_PATTERNS,
            { regex: '^(?!zod$|\\./)', message: 'core/protocol/ is the wire contract: it imports only zod and its own ./ files.' },
          ],
        },
      ],
    },
  },
  {
    // The browser side never pulls in the Node worker (its transports, backends, CLI).
    files: ['app/**/*.ts', 'app/**/*.tsx'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '(^|/)worker-node(/|$)', message: 'app/ runs in browsers: it never imports worker-node/ (share code through core/).' }] }],
    },
  },
);
