import { defineConfig } from 'drizzle-kit';

/** drizzle-kit: `npx drizzle-kit generate` (in hub/) writes SQL migrations from the schema into migrations/. */
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/store/schema.ts',
  out: './migrations',
});
