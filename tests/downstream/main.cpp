// Built against the installed library only: a gradient check of a depthwise
// convolution, printing "downstream ok" when it passes; with the ONNX export,
// a small model exported too (so the ONNX libraries link through the package).
#include <cstdio>
#include <filesystem>

#include <sepconv/sepconv.h>

int main() {
  using namespace sepconv;
  Tensor<double> x({1, 5, 5, 2}), k({3, 3, 2, 1});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = 0.1 * static_cast<double>(i % 7) - 0.3;
  for (int64_t i = 0; i < k.size(); ++i) k[i] = 0.05 * static_cast<double>(i % 5) - 0.1;
  GradCheckResult r = gradcheck(
      [](const std::vector<Variable<double>>& v) { return depthwise_conv2d(v[0], v[1], {1, 1}, {1, 1}, Padding::Same); },
      {x, k});
  std::printf("%s", r.report.c_str());
  if (!r.ok) return 1;
#ifdef SEPCONV_HAVE_ONNX
  Sequential<float> model({std::make_shared<Dense<float>>(DenseOptions(2))}, Shape{3});
  const auto onnx_path = std::filesystem::temp_directory_path() / "sepconv-downstream.onnx";
  export_onnx(model, onnx_path.string());
  const bool written = std::filesystem::file_size(onnx_path) > 0;
  std::filesystem::remove(onnx_path);
  if (!written) return 1;
  std::printf("onnx export linked\n");
#endif
  std::printf("downstream ok\n");
  return 0;
}
