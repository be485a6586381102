import { readdirSync } from 'node:fs';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

/** The web app's modules (web/src/modules/<name>): each may import shared code, never another. */
const webModules = readdirSync(new URL('./web/src/modules', import.meta.url), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);
const paths = (name) => [`@/modules/${name}`, `@/modules/${name}/**`, `**/modules/${name}`, `**/modules/${name}/**`, `../${name}`, `../${name}/**`, `../../${name}`, `../../${name}/**`];

export default tseslint.config(
  { ignores: ['**/dist/**', 'node_modules/**', 'scripts/**', 'eslint.config.js'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Swallowed async failures lose broadcasts: every promise is awaited, returned, or voided on purpose.
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's describe/test return promises the runner itself awaits.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'test', 'it', 'suite'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The core is the room the modules sit in: it never reaches into one (a module installs a
    // hook instead: the API's account resolver, the connect-time principal check).
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/modules/**', '../app.js', '../../app.js', '../../../app.js', '../cli.js', '../../cli.js', '../../../cli.js', '../index.js', '../../index.js'], message: 'The core never imports a module or the app; give the module a hook to install.' }] }],
    },
  },
  {
    files: ['web/src/**/*.ts', 'web/src/**/*.tsx'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
    },
  },
  // Imports flow one way, as in bulletproof-react: components and lib -> modules -> app.
  {
    files: ['web/src/components/**', 'web/src/lib/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@/modules/**', '@/app/**', '**/modules/**', '**/app/**'], message: 'Shared code (components, lib) never imports a module or the app: pass what it needs in.' }] }],
    },
  },
  ...webModules.map((name) => ({
    files: [`web/src/modules/${name}/**`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: webModules.filter((other) => other !== name).flatMap(paths), message: 'Modules never import each other: move what both need to src/components or src/lib, or let the app compose them.' },
            { group: ['@/app/**', '**/app/**'], message: 'Modules never import the app; the app imports them (src/app/routes.ts).' },
          ],
        },
      ],
    },
  })),
);
