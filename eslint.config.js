import globals from 'globals'
import neostandard from 'neostandard'

export default [
  // Fastify's own style, TypeScript included; what is built or generated is not linted.
  ...neostandard({
    ts: true,
    ignores: ['dist/', 'bpf/build/', 'test/tools/build/', 'test/vm/build/', 'openapi/']
  }),
  {
    rules: {
      // `void promise;` says a promise is left to run on purpose (typescript-eslint's idiom); elsewhere void stays an error.
      'no-void': ['error', { allowAsStatement: true }]
    }
  },
  {
    // The page's modules run in the browser.
    files: ['src/ui/**/*.js'],
    languageOptions: { globals: globals.browser }
  },
  {
    files: ['**/*.ts'],
    rules: {
      // The compiler already rejects real redeclarations; a TypeBox schema and its Static<> type share one name on purpose.
      '@typescript-eslint/no-redeclare': 'off'
    }
  }
]
