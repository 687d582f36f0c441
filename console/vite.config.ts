import { defineConfig } from 'vitest/config';

// Served by `txv serve` at /console/ under a strict CSP (no inline script or
// style, no eval): Preact's JSX is compiled ahead of time by esbuild.
export default defineConfig({
  base: '/console/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    // The polyfill is a small inline-free module, but modern browsers do not need it.
    modulePreload: { polyfill: false },
    // Never inline assets as data: URLs into CSS/JS (keeps CSP simple).
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 400,
  },
  server: {
    // `npm run dev` against a local `txv serve` on :8080.
    proxy: { '/v1': 'http://127.0.0.1:8080' },
  },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});
