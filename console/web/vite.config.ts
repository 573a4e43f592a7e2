// Vite builds the console into dist/, which FastAPI serves at / (no CDN: everything is bundled).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 2000, sourcemap: false },
  server: { proxy: { "/api": "http://127.0.0.1:8000" } },
});
