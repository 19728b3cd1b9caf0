// Writes corpus.json: the texts that every tokenizer parity test encodes.
// Hand-written samples (this project's own text) plus generated runs that
// stress the split rules. Deterministic: rerunning gives the same file.
// Run: node test/corpus/tokenizer/make-corpus.mjs
import { writeFileSync } from 'node:fs';

const prose = [
  'The gateway keeps working when the network is gone: calls that can wait are queued, compressed and sent once the link returns.',
  "It's a small box on a shelf, but it'll route every call. We've measured it; they'd said it couldn't. I'M SURE YOU'LL LIKE IT, DON'T YOU'D?",
  'Prices rose 12.5% in 2024 (from $1,234,567.89 to $1,388,888.88); version 3.10.2 shipped on 2024-11-05T08:30:00Z.',
  'HTTPServer, XMLHttpRequest, getElementById, iPhone, McDonald, snake_case_name and SCREAMING_CASE are split differently.',
  'Phone: +1 (555) 010-9999. Email: ops@example.org. URL: https://example.org/a/b?c=d&e=f#g.',
  'Well...   spaced   out.\tTabs\there.\r\nWindows line.\rOld Mac line.\n\n\nThree newlines above.',
];
const code = [
  'fn main() {\n    let xs: Vec<u32> = (0..10).map(|x| x * x).collect();\n    println!("{:?}", xs);\n}\n',
  'export async function load(path: string): Promise<Buffer> {\n\treturn await readFile(path); // why: sync reads stall the loop\n}\n',
  'def f(a, b=2, *args, **kw):\n    """Docstring."""\n    return {k: v for k, v in kw.items() if v is not None}\n\n\nclass A(B): pass\n',
  '#include <stdio.h>\nint main(void){printf("%d\\n",42);return 0;}\n',
  'SELECT id, name FROM tools WHERE enabled = 1 AND name LIKE \'%search%\' ORDER BY id DESC LIMIT 10;',
  '<div class="card"><a href="/x?y=1&amp;z=2">link</a></div>\n<!-- comment -->',
  'a//b///c////d /* block */ x///\ny // end',
];
const json = [
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"file.search","arguments":{"query":"budget 2024","limit":20}}}',
  '{\n  "jsonrpc": "2.0",\n  "id": "abc-123",\n  "result": {\n    "tools": [\n      {\n        "name": "shell.run",\n        "description": "Runs a command.",\n        "inputSchema": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}\n      }\n    ]\n  }\n}',
  '{"escaped":"line\\nbreak \\"quoted\\" \\u00e9 \\ud83d\\ude00","nums":[0,-1,3.14159,1e-9,12345678901234567890],"empty":{},"nil":null,"t":true}',
];
const cjk = [
  '东京是日本的首都，人口超过一千三百万。边缘网关在离线时也能工作。',
  'こんにちは、世界！カタカナとひらがなと漢字が混ざっています。ｶﾀｶﾅ（半角）もある。',
  '안녕하세요, 세계! 한국어 문장입니다. 한글 자모: ᄒ ᅡ ᆫ',
  '中文English混合text，数字123和标点。',
];
const emoji = [
  'Emoji: 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵🇺🇸 ❤️ ⭐️ 🤖🤖🤖',
  'Symbols: © ® ™ € £ ¥ § ¶ † ‡ • … ‰ ′ ″ ← → ↑ ↓ ∀ ∃ ∅ ∈ ∑ √ ∞ ≠ ≤ ≥',
  'Math: 𝐀𝐁𝐂 𝑥² + 𝑦² = 𝑧², 𝔽𝕆𝕆, ℕ ℤ ℚ ℝ ℂ',
];
const marks = [
  'Decomposed: e\u0301 a\u0300 o\u0308 n\u0303 c\u0327; composed: é à ö ñ ç.',
  'Zalgo: Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319a\u0300\u0301\u0302l\u0303\u0304g\u0305\u0306o\u0307\u0308',
  'हिन्दी भाषा देवनागरी लिपि में लिखी जाती है। क्षत्रिय',
  'العربية: مَرْحَبًا بِكُمْ فِي الْعَالَمِ',
  'עברית: שָׁלוֹם עוֹלָם',
  'Tiếng Việt có nhiều dấu: Nguyễn, Trường, được, người.',
  'ภาษาไทยไม่มีช่องว่างระหว่างคำ',
  'Ελληνικά: Καλημέρα κόσμε. Русский: Съешь же ещё этих мягких французских булок.',
  '\u0301\u0301leading marks and trailing ones\u0308\u0308',
];
const whitespace = [
  ' '.repeat(1000),
  'x' + ' '.repeat(257) + 'y',
  '\t'.repeat(300) + 'tabbed',
  '\n'.repeat(200),
  'a' + ' \n'.repeat(150) + 'b',
  ('  \r\n\t ').repeat(120) + 'end',
  'words' + '\u00a0'.repeat(50) + 'nbsp' + '\u3000'.repeat(40) + 'ideographic' + '\u2003'.repeat(30),
  '   leading and trailing   ',
  '\n\n  \n  indented after blank lines\n',
];
const generated = [
  'a'.repeat(3000),
  'ab'.repeat(1500),
  '1234567890'.repeat(100),
  '!@#$%^&*()'.repeat(200),
  '🤖'.repeat(500),
  '日本'.repeat(800),
  'é'.repeat(700),
  'e\u0301'.repeat(700),
  '{"a":[' + Array.from({ length: 300 }, (_, i) => i * 7).join(',') + ']}',
  Array.from({ length: 200 }, (_, i) => `line ${i}: value_${(i * 2654435761) % 1000003}`).join('\n'),
];
const edge = ['', ' ', 'a', '\n', "'", "'s", "'S'", "x'll'VE'd", '0', '00000', '½⅓¼ ٣٤٥ ४५ Ⅻ', 'A\u0300B', '\r', 'a\r\nb'];

const texts = [...prose, ...code, ...json, ...cjk, ...emoji, ...marks, ...whitespace, ...generated, ...edge];
const out = JSON.stringify({ texts }, null, 0).replace(/","/g, '",\n"');
writeFileSync(new URL('./corpus.json', import.meta.url), out + '\n');
console.log(`${texts.length} texts, ${texts.reduce((n, t) => n + Buffer.byteLength(t), 0)} bytes`);
