// Runs every model onnx_export_driver wrote under onnxruntime (npm package
// onnxruntime-node) and compares its output with our predict():
//   error = max_i |ort_i - ours_i| / max_i |ours_i|   (the max-norm relative error)
// must be <= 1e-5 for every case. Usage: node onnx_runtime.js <interop dir> <case dir>
const path = require('path');
const fs = require('fs');
const [interop, dir] = process.argv.slice(2).map((p) => path.resolve(p));
const ort = require(path.join(interop, 'node_modules', 'onnxruntime-node'));
const tolerance = 1e-5;

function readF32(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

async function main() {
  const cases = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8'));
  let failures = 0;
  for (const c of cases) {
    const session = await ort.InferenceSession.create(path.join(dir, c.name + '.onnx'));
    const input = new ort.Tensor('float32', readF32(path.join(dir, c.name + '.input.f32')), c.input_shape);
    const result = await session.run({input});
    const got = result.output;
    const want = readF32(path.join(dir, c.name + '.predict.f32'));
    let ok = JSON.stringify(Array.from(got.dims)) === JSON.stringify(c.output_shape) && got.data.length === want.length;
    let diff = 0, scale = 0;
    for (let i = 0; ok && i < want.length; ++i) {
      diff = Math.max(diff, Math.abs(got.data[i] - want[i]));
      scale = Math.max(scale, Math.abs(want[i]));
    }
    const error = scale > 0 ? diff / scale : diff;
    ok = ok && Number.isFinite(error) && error <= tolerance;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${c.name}: shape [${got.dims}] vs [${c.output_shape}], relative error ${error.toExponential(2)}`);
    if (!ok) ++failures;
  }
  if (failures) {
    console.log(`${failures} of ${cases.length} cases differ from predict()`);
    process.exit(1);
  }
  console.log(`onnxruntime ${require(path.join(interop, 'node_modules', 'onnxruntime-node', 'package.json')).version}: ${cases.length} cases match predict()`);
}
main().catch((e) => { console.error(e); process.exit(1); });
