import * as path from 'node:path';

/** edgesight's own version, from package.json (read once; compiled code lives in dist/src/util). */
export const EDGESIGHT_VERSION: string = (require(path.resolve(__dirname, '..', '..', '..', 'package.json')) as { version: string }).version;
