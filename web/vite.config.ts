import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));
const api = 'http://127.0.0.1:8080';

/** The web app: `npm run build:web` writes web/dist, which `credence serve` serves at `/`. */
export default defineConfig({
  root,
  plugins: [react()],
  build: { outDir: fileURLToPath(new URL('./dist', import.meta.url)), emptyOutDir: true },
  server: {
    proxy: {
      '/api': { target: api, changeOrigin: false },
      '/oauth2': { target: api, changeOrigin: false },
    },
  },
});
