import { defineConfig } from 'vitest/config'

// Unit tests run in parallel; kernel tests share the host's BPF and network state, so they run one file at a time.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/kernel/**', '**/*.kernel.test.ts', '**/node_modules/**']
        }
      },
      {
        test: {
          name: 'kernel',
          include: ['test/kernel/**/*.test.ts', 'test/**/*.kernel.test.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000
        }
      }
    ]
  }
})
