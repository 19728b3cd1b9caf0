// Notices that TLS files changed, so a renewed certificate is served without
// a restart. The folders are watched, not the files: renewal tools replace a
// file (certbot swaps symlinks, Kubernetes swaps a "..data" link, editors
// rename over it), and a watch on the old file would see nothing after the
// first swap. Any change in a folder counts; the reader then compares the
// bytes, so an unrelated file changing costs one read of a few KB.
import { realpathSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

function realTarget(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

export interface FileWatch {
  close(): void;
}

/**
 * Calls `onChange` once things settle (`settleMs` after the last change in
 * any folder of `paths`): a renewal writes the certificate and the key one
 * after the other. `onError` hears of a folder that cannot be watched
 * (SIGHUP still reloads).
 */
export function watchFiles(paths: readonly string[], onChange: () => void, onError: (message: string) => void, settleMs = 200): FileWatch {
  let timer: NodeJS.Timeout | undefined;
  const changed = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, settleMs);
    timer.unref();
  };
  const watchers: FSWatcher[] = [];
  // A symlinked file is watched where the link is and where it points (its target may be rewritten in place).
  const folders = new Set(paths.flatMap((p) => [dirname(p), dirname(realTarget(p))]));
  for (const folder of folders) {
    try {
      const watcher = watch(folder, { persistent: false }, changed);
      watcher.on('error', (err) => onError(`${folder} is no longer watched (${err.message}); send SIGHUP to reload TLS files`));
      watchers.push(watcher);
    } catch (err) {
      onError(`${folder} cannot be watched (${(err as Error).message}); send SIGHUP to reload TLS files`);
    }
  }
  return {
    close() {
      if (timer) clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}
