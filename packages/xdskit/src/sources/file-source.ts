// Configuration in a file or a directory of YAML/JSON files, watched for changes.
//
// Editors save in ways a naive watcher gets wrong: write to a temporary file and rename it over the original
// (the watched inode disappears), or truncate and write in several chunks (a reader sees half a file). So the
// watcher never trusts an event's file name: any event in the tree schedules one rescan after `debounceMs` of
// quiet, the rescan compares each file's size and mtime with what it read before, reads the changed ones twice
// checked (stat, read, stat: a file still being written is read again on the next round), and emits only the
// documents whose text changed. A single file is watched through its directory, so renames over it are seen.
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { XdsKitError } from "@xdskit/core";
import { Observable } from "rxjs";
import type { ConfigChange, ConfigDocument, ConfigSource } from "./config-source.js";

export interface FileSourceOptions {
  /** A YAML/JSON file, or a directory read recursively. */
  readonly path: string;
  /** Quiet time after the last file event before the tree is rescanned. Default: 100 ms (istiod's debounce). */
  readonly debounceMs?: number;
  /** Watch for changes after the first read. Default: true. */
  readonly watch?: boolean;
  /** File name endings that hold configuration. Default: .yaml, .yml, .json. */
  readonly extensions?: readonly string[];
}

const DEFAULT_EXTENSIONS = [".yaml", ".yml", ".json"];

/** Editor leftovers and hidden files: never configuration. */
function isIgnored(relative: string): boolean {
  return relative.split(path.sep).some((part) => part.startsWith(".") || part.startsWith("#") || part.endsWith("~"));
}

interface Known {
  readonly size: number;
  readonly mtimeMs: number;
  readonly text: string;
}

/** Lists the files `root` stands for (itself when it is a file); paths as the user wrote them. */
export async function listFiles(root: string, isDir: boolean, extensions: readonly string[]): Promise<string[]> {
  if (!isDir) return [root];
  const entries = await fsp.readdir(root, { recursive: true, withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const parent = (entry as { parentPath?: string; path?: string }).parentPath ?? (entry as { path: string }).path;
    const full = path.join(parent, entry.name);
    const relative = path.relative(root, full);
    if (isIgnored(relative) || !extensions.some((ext) => entry.name.endsWith(ext))) continue;
    if (entry.isFile() || entry.isSymbolicLink()) files.push(full);
  }
  return files.sort();
}

/** Reads a file unless it changes while being read; undefined when it vanished or is still being written. */
async function readSettled(file: string): Promise<Known | "gone" | "unsettled"> {
  try {
    const before = await fsp.stat(file);
    if (!before.isFile()) return "gone";
    const text = await fsp.readFile(file, "utf8");
    const after = await fsp.stat(file);
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || Buffer.byteLength(text) !== after.size)
      return "unsettled";
    return { size: after.size, mtimeMs: after.mtimeMs, text };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "gone";
    throw error;
  }
}

/**
 * Reads every config file under the given files and directories once (YAML/JSON, hidden files and editor
 * leftovers skipped): what `xdskit validate` and `translate` read. A missing path throws INVALID_ARGUMENT.
 */
export async function readConfigFiles(
  paths: readonly string[],
  extensions: readonly string[] = DEFAULT_EXTENSIONS,
): Promise<{ file: string; text: string }[]> {
  const out: { file: string; text: string }[] = [];
  for (const root of paths) {
    let stat: fs.Stats;
    try {
      stat = await fsp.stat(root);
    } catch {
      throw new XdsKitError("INVALID_ARGUMENT", `config path ${root} does not exist: give a YAML file or a directory`);
    }
    for (const file of await listFiles(root, stat.isDirectory(), extensions))
      out.push({ file, text: await fsp.readFile(file, "utf8") });
  }
  return out;
}

export function createFileSource(options: FileSourceOptions): ConfigSource {
  if (options === null || typeof options !== "object" || typeof options.path !== "string" || options.path === "")
    throw new XdsKitError("INVALID_ARGUMENT", "createFileSource: options.path must be a file or directory path");
  const debounceMs = options.debounceMs ?? 100;
  if (!Number.isFinite(debounceMs) || debounceMs < 0)
    throw new XdsKitError("INVALID_ARGUMENT", `createFileSource: options.debounceMs must be >= 0, got ${debounceMs}`);
  const extensions = options.extensions ?? DEFAULT_EXTENSIONS;
  const root = options.path;

  const changes = new Observable<ConfigChange>((subscriber) => {
    const known = new Map<string, Known>();
    let isDir = false;
    let watcher: fs.FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    let scanning: Promise<void> | undefined;
    let again = false;
    let closed = false;

    const scan = async (full: boolean): Promise<void> => {
      const files = await listFiles(root, isDir, extensions);
      const upserted: ConfigDocument[] = [];
      const present = new Set<string>();
      let unsettled = false;
      for (const file of files) {
        const previous = known.get(file);
        let stat: fs.Stats | undefined;
        try {
          stat = await fsp.stat(file);
        } catch {
          continue; // vanished between listing and stat (a rename in progress): absent this round
        }
        present.add(file);
        if (previous && previous.size === stat.size && previous.mtimeMs === stat.mtimeMs) continue;
        const read = await readSettled(file);
        if (read === "gone") {
          present.delete(file);
          continue;
        }
        if (read === "unsettled") {
          unsettled = true;
          if (previous === undefined) present.delete(file);
          continue;
        }
        known.set(file, read);
        if (previous?.text !== read.text) upserted.push({ id: file, file, text: read.text });
      }
      const removed = [...known.keys()].filter((file) => !present.has(file));
      for (const file of removed) known.delete(file);
      if (full) {
        const all = [...known.entries()].map(([file, k]): ConfigDocument => ({ id: file, file, text: k.text }));
        subscriber.next({ full: true, upserted: all, removed: [] });
      } else if (upserted.length > 0 || removed.length > 0) subscriber.next({ full: false, upserted, removed });
      if (unsettled) schedule();
    };

    // A change seen while a scan ran is scanned again once that scan ends.
    const scanEnded = () => {
      scanning = undefined;
      if (again && !closed) {
        again = false;
        schedule();
      }
    };
    const runScan = () => {
      timer = undefined;
      if (closed) return;
      if (scanning) {
        again = true;
        return;
      }
      scanning = scan(false)
        .catch((error: unknown) => subscriber.error(error))
        .finally(scanEnded);
    };
    const schedule = () => {
      if (closed) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(runScan, debounceMs);
    };

    (async () => {
      let stat: fs.Stats;
      try {
        stat = await fsp.stat(root);
      } catch {
        throw new XdsKitError(
          "INVALID_ARGUMENT",
          `config path ${root} does not exist: give a YAML file or a directory`,
        );
      }
      isDir = stat.isDirectory();
      if (options.watch ?? true) {
        const watched = isDir ? root : path.dirname(root);
        const base = path.basename(root);
        watcher = fs.watch(watched, { recursive: isDir }, (_event, name) => {
          if (!isDir && name !== null && name !== base) return;
          schedule();
        });
        watcher.on("error", (error) => subscriber.error(error));
      }
      scanning = scan(true);
      await scanning;
    })()
      .catch((error: unknown) => subscriber.error(error))
      .finally(scanEnded);

    return () => {
      closed = true;
      if (timer) clearTimeout(timer);
      watcher?.close();
    };
  });

  return { name: `file ${root}`, changes };
}
