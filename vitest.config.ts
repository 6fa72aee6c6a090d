import { defineConfig } from 'vitest/config'

// Unit tests run in parallel; kernel tests share the host's BPF and network state, so they run one file at a time.
// Most unit tests spawn processes (the fake loader, the built service, the install script): on a slow or busy
// machine vitest's 5 s default fails them for nothing, so every test gets a generous bound, and those that copy
// trees or wait on the kernel state a longer one of their own.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/kernel/**', '**/*.kernel.test.ts', '**/node_modules/**'],
          testTimeout: 30_000,
          hookTimeout: 30_000
        }
      },
      {
        test: {
          name: 'kernel',
          include: ['test/kernel/**/*.test.ts', 'test/**/*.kernel.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000
        }
      }
    ]
  }
})
