/// <reference types="vitest" />
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// `npm run dev` forwards the dashboard's own API and the clouds' APIs to a running rainbow.
const rainbow = process.env.RAINBOW_URL ?? 'http://127.0.0.1:8090'

export default defineConfig({
  plugins: [vue()],
  server: { proxy: { '/rainbow': rainbow, '/clouds': rainbow } },
  build: { target: 'es2022', sourcemap: false, chunkSizeWarningLimit: 300 },
  test: { environment: 'happy-dom', include: ['tests/**/*.test.ts'] },
})
