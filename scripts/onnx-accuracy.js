// Accuracy of an exported Fashion-MNIST model under onnxruntime (npm package
// onnxruntime-node) on the 10,000 test images, preprocessed as
// io/fashion_mnist.h does (bytes / 255, [N, 28, 28, 1]); the predicted class is
// the arg max of the outputs.
//   node scripts/onnx-accuracy.js m.onnx [data dir] [interop dir]
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const [model, dataDir = '/usr/share/datasets/fashion-mnist',
       interop = path.join(__dirname, '..', '.cache', 'interop')] = process.argv.slice(2).map((p) => path.resolve(p));
const ort = require(path.join(interop, 'node_modules', 'onnxruntime-node'));

function idx(file, magic) {
  const b = zlib.gunzipSync(fs.readFileSync(path.join(dataDir, file)));
  if (b.readUInt32BE(0) !== magic) throw new Error(`${file}: not an idx file of magic ${magic}`);
  return b;
}

async function main() {
  const images = idx('t10k-images-idx3-ubyte.gz', 2051), labels = idx('t10k-labels-idx1-ubyte.gz', 2049);
  const n = images.readUInt32BE(4), pixels = images.readUInt32BE(8) * images.readUInt32BE(12);
  const session = await ort.InferenceSession.create(model);
  const batch = 500;
  let correct = 0;
  for (let start = 0; start < n; start += batch) {
    const m = Math.min(batch, n - start);
    const x = new Float32Array(m * pixels);
    for (let i = 0; i < m * pixels; ++i) x[i] = images[16 + start * pixels + i] / 255;
    const out = (await session.run({input: new ort.Tensor('float32', x, [m, 28, 28, 1])})).output;
    const classes = out.dims[1];
    for (let s = 0; s < m; ++s) {
      let best = 0;
      for (let c = 1; c < classes; ++c) if (out.data[s * classes + c] > out.data[s * classes + best]) best = c;
      if (best === labels[8 + start + s]) ++correct;
    }
  }
  console.log(`onnxruntime accuracy: ${(correct / n).toFixed(4)} (${correct} of ${n} test images)`);
}
main().catch((e) => { console.error(e); process.exit(1); });
