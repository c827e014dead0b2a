/** Limits on what a package may hold, so an upload or inbox folder cannot fill the card. */
export const PACKAGE_LIMITS = { maxFiles: 500, maxDepth: 4 };
