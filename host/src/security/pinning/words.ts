// Text from an upstream, made safe to show an operator. Tool names and
// definitions are the upstream's words: in a terminal, an escape sequence
// could clear the screen or hide lines of a diff; invisible characters
// (zero-width, bidirectional overrides, Unicode tags, variation selectors)
// can carry instructions a model reads and a person does not see; and a
// name pasted into a shell command could run one. Here each becomes visible.

/** Control, format, separator, private-use and unassigned code points, and variation selectors; \n is kept (lines). */
const HIDDEN = /(?!\n)[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}\u{FE00}-\u{FE0F}\u{E0100}-\u{E01EF}]/gu;

/** `text` with every hidden character written as \u{XXXX}. */
export function printable(text: string): string {
  return text.replace(HIDDEN, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

/** How many hidden characters `text` holds (the diff says so: a change of 0 visible characters is still a change). */
export function hiddenCount(text: string): number {
  return text.match(HIDDEN)?.length ?? 0;
}

/** `text` on one line: printable, with its line breaks written as \n too (for log lines and commands). */
export function oneLine(text: string): string {
  return printable(text).replace(/\n/g, '\\n');
}

/** One shell word: as is when plain, else single-quoted, its hidden characters made visible. */
export function shellWord(word: string): string {
  if (/^[A-Za-z0-9_.:@/+=-]+$/.test(word)) return word;
  return `'${oneLine(word).replace(/'/g, `'\\''`)}'`;
}

/** A tool name as the last argument: after `--` when it starts with "-", so a tool named "--all" stays a name. */
const toolArgument = (tool: string): string => `${tool.startsWith('-') ? '-- ' : ''}${shellWord(tool)}`;

export const diffCommand = (upstream: string, tool: string): string => `mcp-edge tools diff ${shellWord(upstream)} ${toolArgument(tool)}`;

export const approveCommand = (upstream: string, tool: string, digest?: string): string =>
  `mcp-edge tools approve ${shellWord(upstream)}${digest ? ` --digest ${digest}` : ''} ${toolArgument(tool)}`;
