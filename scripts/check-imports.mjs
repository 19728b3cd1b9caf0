// Fails when the TypeScript files under a folder (host/src by default) import
// each other in a loop. Every import counts: `import type`, `export ... from`
// and `import()` too, since a cycle of types is still two modules that cannot
// be understood, or moved, one without the other. Imports are read with
// TypeScript's own scanner (ts.preProcessFile), so an import-shaped line in a
// comment or a string is not one. Only relative specifiers name files of the
// tree; './x.js' is the source file './x.ts'.
//
//   node scripts/check-imports.mjs [FOLDER]
//
// Prints each cycle as a path (a.ts -> b.ts -> a.ts) and exits 1, or prints
// how many files it read and exits 0.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { root } from './lib.mjs';

/** Every .ts file under `folder`, sorted so the report is stable. */
function sourceFiles(folder) {
  const out = [];
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out.sort();
}

/** The file a relative specifier names, or undefined (a package, or a file that is not TypeScript). */
function resolveSpecifier(from, specifier) {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return undefined;
  const base = resolve(dirname(from), specifier);
  const stem = base.replace(/\.(js|mjs|cjs)$/, '');
  for (const candidate of [`${stem}.ts`, `${stem}.d.ts`, base, join(base, 'index.ts')]) {
    if (candidate.endsWith('.ts') && existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** file -> the files of the tree it imports. */
function importGraph(files) {
  const graph = new Map();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles.map((ref) => resolveSpecifier(file, ref.fileName)).filter((t) => t !== undefined);
    graph.set(file, [...new Set(targets)].sort());
  }
  return graph;
}

/** The strongly connected components that hold a loop (Tarjan), each as a list of files. */
function loops(graph) {
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  let next = 0;
  const visit = (file) => {
    index.set(file, next);
    low.set(file, next);
    next += 1;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file), low.get(target)));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file), index.get(target)));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component = [];
    let member;
    do {
      member = stack.pop();
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    const selfImport = component.length === 1 && (graph.get(file) ?? []).includes(file);
    if (component.length > 1 || selfImport) found.push(component.sort());
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return found;
}

/** One shortest loop through the component's first file, as a path that ends where it starts. */
function cycleThrough(component, graph) {
  const members = new Set(component);
  const start = component[0];
  const cameFrom = new Map();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift();
    for (const target of graph.get(file) ?? []) {
      if (!members.has(target)) continue;
      if (target === start) {
        const path = [file];
        while (path[0] !== start) path.unshift(cameFrom.get(path[0]));
        return [...path, start];
      }
      if (cameFrom.has(target)) continue;
      cameFrom.set(target, file);
      queue.push(target);
    }
  }
  return [start, start];
}

const folder = resolve(process.argv[2] ?? join(root, 'host/src'));
const files = sourceFiles(folder);
const graph = importGraph(files);
const found = loops(graph);
const name = (file) => relative(folder, file);
if (found.length === 0) {
  console.log(`check-imports: no import cycle among ${files.length} files under ${relative(root, folder) || folder}`);
} else {
  console.error(`check-imports: ${found.length} import cycle(s) under ${relative(root, folder) || folder}:`);
  for (const component of found) {
    console.error(`  ${cycleThrough(component, graph).map(name).join(' -> ')}`);
    if (component.length > 2) console.error(`    (${component.length} files tied together: ${component.map(name).join(', ')})`);
  }
  console.error('Cut each cycle: the lower module must not know the higher one (pass it what it needs instead).');
  process.exit(1);
}
