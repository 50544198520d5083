#!/usr/bin/env node
// Score raw pixels with an exported shiftad detector in ONNX Runtime (CPU), a runtime
// shiftad did not write: the check of `shiftad export` (tests/export, docs/deploy.md).
//
//   node tools/onnxruntime/run.js MODEL.onnx PIXELS.bin SIDE
//
// PIXELS.bin: N images of SIDE x SIDE RGB, uint8, row-major N x SIDE x SIDE x 3 (what
// the model's input "pixels" takes). Prints JSON {"score": [N], "embedding": [N][D]}.
// Exit status 2 on bad arguments, 1 on any other error (message on stderr).
'use strict';

const fs = require('fs');

async function main() {
  const [modelPath, pixelsPath, sideText] = process.argv.slice(2);
  const side = Number(sideText);
  if (!modelPath || !pixelsPath || !Number.isInteger(side) || side <= 0) {
    console.error('usage: node run.js MODEL.onnx PIXELS.bin SIDE');
    process.exit(2);
  }
  const ort = require('onnxruntime-node');
  const bytes = fs.readFileSync(pixelsPath);
  const per = side * side * 3;
  if (bytes.length === 0 || bytes.length % per !== 0) {
    throw new Error(`${pixelsPath}: ${bytes.length} bytes is not a whole number of ${side}x${side}x3 images`);
  }
  const n = bytes.length / per;
  const session = await ort.InferenceSession.create(modelPath, {intraOpNumThreads: 2, interOpNumThreads: 1});
  const pixels = new ort.Tensor('uint8', new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), [n, side, side, 3]);
  const out = await session.run({pixels});
  const dim = out.embedding.dims[1];
  const embedding = [];
  for (let i = 0; i < n; ++i) embedding.push(Array.from(out.embedding.data.subarray(i * dim, (i + 1) * dim)));
  process.stdout.write(JSON.stringify({score: Array.from(out.score.data), embedding}) + '\n');
}

main().catch((e) => {
  console.error(`run.js: ${e.message || e}`);
  process.exit(1);
});
