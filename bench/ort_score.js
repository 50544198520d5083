#!/usr/bin/env node
// ONNX Runtime's scoring throughput on an ONNX model, the yardstick of shiftad's scorer
// (docs/performance.md, "Scoring speed against ONNX Runtime"). Prints one JSON line per
// batch size, as shiftad_bench does: figures, never assertions.
//
//   node bench/ort_score.js MODEL.onnx [--batch 1,64] [--n 256] [--threads 2] [--side 224] [--spin 1]
//
// The input is read from the model: a float32 N x 3 x side x side tensor (a network
// exported by PyTorch), or the uint8 N x side x side x 3 RGB pixels of `shiftad export`
// (its side is the model's own; --side is ignored then).
//
// --spin 0 stops ONNX Runtime's idle threads from spinning (session.intra_op.allow_spinning),
// as OMP_WAIT_POLICY=PASSIVE does for shiftad's: on a shared machine spinning threads
// take the cores from the working ones. The default is ONNX Runtime's own (spinning).
//
// onnxruntime-node is found by Node's module resolution: run from (or NODE_PATH to) a
// folder where `npm install --ignore-scripts onnxruntime-node` was run.
const ort = require('onnxruntime-node');

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

async function main() {
  const model = process.argv[2];
  const batches = arg('batch', '1,64').split(',').map(Number);
  const n = Number(arg('n', '256'));
  const threads = Number(arg('threads', '2'));
  const side = Number(arg('side', '224'));
  const spin = arg('spin', '1');
  const session = await ort.InferenceSession.create(
      model, {intraOpNumThreads: threads, interOpNumThreads: 1, extra: {session: {intra_op: {allow_spinning: spin}}}});
  const input = session.inputNames[0];
  const meta = session.inputMetadata ? session.inputMetadata[0] : undefined;
  const pixels = meta && meta.type === 'uint8';
  const px = pixels ? meta.shape[1] : side;
  for (const batch of batches) {
    const data = pixels ? new Uint8Array(batch * 3 * px * px) : new Float32Array(batch * 3 * px * px);
    for (let i = 0; i < data.length; ++i) data[i] = (i * 7919) % 256;  // fixed pixels in [0, 255]
    const feeds = {[input]: pixels ? new ort.Tensor('uint8', data, [batch, px, px, 3])
                                   : new ort.Tensor('float32', data, [batch, 3, px, px])};
    await session.run(feeds);  // warm-up: allocations and the first pass
    const t0 = process.hrtime.bigint();
    let done = 0;
    while (done < n) {
      await session.run(feeds);
      done += batch;
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(JSON.stringify({bench: 'score', impl: 'onnxruntime', version: ort.env.versions ? ort.env.versions.common : '',
                                batch, images: done, seconds, images_per_s: done / seconds, threads, spin,
                                input: pixels ? `uint8 ${px}x${px}x3` : `float32 3x${px}x${px}`}));
  }
}

main().catch((e) => {
  console.error('ort_score.js: ' + e.message);
  process.exit(1);
});
