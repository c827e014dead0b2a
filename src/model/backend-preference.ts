/** The TF.js backends a user can ask for (no TF.js import here: the config schema uses it too). */
export const BACKEND_PREFERENCES = ['auto', 'tfjs-node', 'wasm', 'cpu'] as const;
export type BackendPreference = (typeof BACKEND_PREFERENCES)[number];
