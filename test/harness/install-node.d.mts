// Types of install-node.mjs (plain ESM so that `node test/harness/install-node.mjs` needs no TypeScript).

/** The runtimes the packaging test names, by major version: the exact version installed when needed. */
export declare const NODE_RUNTIMES: Record<20 | 24, string>;

/** Where `npm run node:install` puts Node `version`'s binary. */
export declare function installedNodePath(version: string): string;

/** The binary of Node `major`: this process's when it is that major, else the one installed under .cache. */
export declare function nodeRuntime(major: 20 | 24): string;
