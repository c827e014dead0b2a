/**
 * The inference backends a user can ask for (no TF.js import here: the config schema uses it
 * too). tfjs-node, wasm and cpu are TF.js backends; opencv runs the model in OpenCV DNN (TF.js
 * still loads it and is the reference it is checked against); auto picks the fastest that
 * passes that check.
 */
export const BACKEND_PREFERENCES = ['auto', 'tfjs-node', 'wasm', 'cpu', 'opencv'] as const;
export type BackendPreference = (typeof BACKEND_PREFERENCES)[number];

/** What training accepts: it runs on TF.js only. */
export const TFJS_BACKEND_PREFERENCES = ['auto', 'tfjs-node', 'wasm', 'cpu'] as const;
