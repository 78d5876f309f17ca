/** esbuild bundles the stylesheet imported from main.ts into /app.css. */
declare module '*.css';
