// Times the kernels of a separable convolution one by one on the shapes of
// bench/sepconv-bench: the three GEMMs of the pointwise part (forward, backward
// to the input, backward to the kernel), our AVX-512 kernels against OpenBLAS,
// and the three depthwise kernels on each ISA; then RandomTranslation's
// resampling of a Fashion-MNIST batch, forward and backward, per fill mode.
// For tuning; the layer-level numbers come from sepconv-bench.
// usage: kernel-bench [--threads N] [--shapes a,b] [--cpu-time] [--only gemm|depthwise|translate]
//   --threads N: 1 to 4 x the cores (default: all cores); anything else stops
//   with the accepted range and exit status 2.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cli_numbers.h"
#include "sepconv/core/cpu.h"
#include "sepconv/core/geometry.h"
#include "sepconv/core/kernels/depthwise.h"
#include "sepconv/core/kernels/gemm.h"
#include "sepconv/core/kernels/translate.h"
#include "sepconv/core/parallel.h"
#include "sepconv/core/tensor.h"

using namespace sepconv;

namespace {
struct Shape8 {
  const char* name;
  int64_t n, h, w, c, f, k, s, dm;
};
const Shape8 kShapes[] = {
    {"mnv1_112x112x32_f64", 8, 112, 112, 32, 64, 3, 1, 1},      {"mnv1_112x112x64_s2_f128", 8, 112, 112, 64, 128, 3, 2, 1},
    {"mnv1_56x56x128_f128", 8, 56, 56, 128, 128, 3, 1, 1},      {"mnv1_28x28x256_f256", 8, 28, 28, 256, 256, 3, 1, 1},
    {"mnv1_14x14x512_f512", 8, 14, 14, 512, 512, 3, 1, 1},      {"mnv2_56x56x144_f24", 8, 56, 56, 144, 24, 3, 1, 1},
    {"xception_19x19x728_f728", 8, 19, 19, 728, 728, 3, 1, 1}, {"k5_dm2_32x32x32_f64", 64, 32, 32, 32, 64, 5, 1, 2},
};

bool g_cpu_time = false;
double now_ms() {
  timespec ts;
  clock_gettime(g_cpu_time ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

// The fastest run: robust on a busy machine. With --cpu-time (one thread), the
// process's CPU time, which leaves out time spent descheduled.
template <typename F>
double best_ms(F&& fn) {
  for (int i = 0; i < 2; ++i) fn();
  std::vector<double> ts;
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(400);
  while (ts.size() < 5 || std::chrono::steady_clock::now() < end) {
    const double t0 = now_ms();
    fn();
    ts.push_back(now_ms() - t0);
  }
  std::sort(ts.begin(), ts.end());
  return ts[0];
}
}  // namespace

int main(int argc, char** argv) {
  int threads = 0;
  std::string only, part;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      try {
        threads = cli::parse_integer<int>("--threads", argv[++i], 1, max_num_threads());
      } catch (const cli::OptionError& e) {
        std::fprintf(stderr, "kernel-bench: %s\n", e.what());
        return 2;
      }
    }
    else if (!std::strcmp(argv[i], "--cpu-time")) g_cpu_time = true;
    else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) part = argv[++i];
    else if (!std::strcmp(argv[i], "--shapes") && i + 1 < argc) only = std::string(",") + argv[++i] + ",";
  }
  set_num_threads(threads);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> ud(-1, 1);
  for (const Shape8& s : kShapes) {
    if (part == "translate") break;
    if (!only.empty() && only.find(std::string(",") + s.name + ",") == std::string::npos) continue;
    const int64_t oh = (s.h + s.s - 1) / s.s, ow = (s.w + s.s - 1) / s.s;
    const int64_t M = s.n * oh * ow, K = s.c * s.dm, F = s.f;
    Tensor<float> a({M, K}), w({K, F}), y({M, F}), gy({M, F}), ga({M, K}), gw({K, F});
    for (auto* t : {&a, &w, &gy})
      for (auto& v : *t) v = ud(rng);
    const double gf = 2.0 * M * K * F / 1e9;
    std::printf("%-26s M=%ld K=%ld F=%ld\n", s.name, (long)M, (long)K, (long)F);
    for (cpu::Isa isa : {cpu::Isa::Avx512, cpu::Isa::Avx2}) {
      if (part == "depthwise" || isa > cpu::detected_isa()) continue;
      cpu::ScopedIsa guard(isa);
      double f = best_ms([&] { gemm<float>(false, false, M, F, K, 1, a.data(), K, w.data(), F, 0, y.data(), F); });
      double bi = best_ms([&] { gemm<float>(false, true, M, K, F, 1, gy.data(), F, w.data(), F, 0, ga.data(), K); });
      double bk = best_ms([&] { gemm<float>(true, false, K, F, M, 1, a.data(), K, gy.data(), F, 0, gw.data(), F); });
      std::printf("  gemm %-8s fwd %7.3f ms %6.1f GF/s | bwd_in %7.3f ms %6.1f | bwd_w %7.3f ms %6.1f\n",
                  isa == cpu::Isa::Avx512 ? "ours512" : "openblas", f, gf / f * 1e3, bi, gf / bi * 1e3, bk,
                  gf / bk * 1e3);
    }
    if (part == "gemm") continue;
    const ConvGeometry g = make_conv_geometry(s.n, s.h, s.w, s.c, s.dm, {s.k, s.k}, {s.s, s.s}, {1, 1}, Padding::Same);
    Tensor<float> x({s.n, s.h, s.w, s.c}), dk({s.k, s.k, s.c, s.dm}), gx(x.shape()), gdk(dk.shape());
    for (auto* t : {&x, &dk})
      for (auto& v : *t) v = ud(rng);
    const double dgf = 2.0 * g.output_size() * s.k * s.k / 1e9;
    for (cpu::Isa isa : {cpu::Isa::Avx512, cpu::Isa::Avx2, cpu::Isa::Generic}) {
      if (isa > cpu::detected_isa()) continue;
      cpu::ScopedIsa guard(isa);
      double f = best_ms([&] { depthwise_forward(g, x.data(), dk.data(), a.data()); });
      double bi = best_ms([&] { depthwise_backward_input(g, gy.data(), dk.data(), gx.data()); });
      double bk = best_ms([&] { depthwise_backward_kernel(g, x.data(), a.data(), gdk.data()); });
      std::printf("  dw   %-8s fwd %7.3f ms %6.1f GF/s | bwd_in %7.3f ms %6.1f | bwd_w %7.3f ms %6.1f\n",
                  cpu::isa_name(isa), f, dgf / f * 1e3, bi, dgf / bi * 1e3, bk, dgf / bk * 1e3);
    }
  }
  if (part == "gemm" || part == "depthwise") return 0;
  // RandomTranslation's kernels on the batch the Fashion-MNIST models train
  // on: shifts of up to 10% (2.8 px) each way, bilinear.
  const int64_t n = 64, h = 28, w = 28;
  Tensor<float> img({n, h, w, 1}), out(img.shape()), grad(img.shape());
  for (auto& v : img) v = ud(rng);
  std::vector<float> sh(n), sw(n);
  std::uniform_real_distribution<float> shift(-2.8f, 2.8f);
  for (int64_t i = 0; i < n; ++i) sh[i] = shift(rng), sw[i] = shift(rng);
  std::printf("translate (64, 28, 28, 1) bilinear\n");
  const std::pair<const char*, kernels::FillMode> modes[] = {{"reflect", kernels::FillMode::Reflect},
                                                             {"wrap", kernels::FillMode::Wrap},
                                                             {"constant", kernels::FillMode::Constant},
                                                             {"nearest", kernels::FillMode::Nearest}};
  for (const auto& [mode_name, mode] : modes) {
    const kernels::TranslateSpec spec{n, h, w, 1, kernels::Interpolation::Bilinear, mode, 0.0};
    double f = best_ms([&] { kernels::translate_images(img.data(), out.data(), spec, sh.data(), sw.data()); });
    double b = best_ms(
        [&] { kernels::translate_images_backward(out.data(), grad.data(), spec, sh.data(), sw.data(), false); });
    std::printf("  %-8s fwd %7.3f ms | bwd %7.3f ms\n", mode_name, f, b);
  }
}
