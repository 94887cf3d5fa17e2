// Times a SeparableConv2D layer (k x k depthwise with "same" padding, 1x1
// pointwise, bias, relu) on NHWC float input, on the shapes of the PyTorch peer
// script shared/bench/torch_sepconv.py (same names, same (N, H, W, C, F, k,
// stride, depth_multiplier)); with --suite conv2d, a Conv2D layer (bias, relu,
// "same") on the shapes of shared/bench/torch_conv2d.py.
//
// usage: sepconv-bench [--suite separable|conv2d] [--threads N] [--shapes a,b,...] [--modes forward,train]
//                      [--impl layer|op] [--data-format channels_last|channels_first]
//                      [--min-time SECONDS] [--cpu-time] [--list-shapes]
//   forward: the layer's forward pass (no tape).
//   train:   forward + backward to the input and all weights, seeded with ones
//            (the gradient of y.sum(), as the peer script does); gradients are
//            cleared between steps as the peer sets .grad = None.
//   --cpu-time: time with the process's CPU time instead of the wall clock; with
//            --threads 1 it leaves out time spent descheduled on a busy machine.
//   --impl op: call the separable_conv2d op with its fused relu directly instead
//            of the layer (which applies its activation as a separate op).
//   --data-format channels_first: the layer takes NCHW input (the same shapes,
//            transposed); the default is channels_last (NHWC).
//   --list-shapes: print the shape names, one per line, and exit.
//   --threads N: 1 to 4 x the cores (default: all cores); --min-time: a number
//            of seconds in [0, 3600] (default 1). Anything else (junk, 1e3 for
//            an integer, out of range) stops with usage and exit status 2.
// Prints one JSON line per shape and mode:
//   {"shape", "mode", "ms" (median over >= min-time after warm-up), "gflops",
//    "threads", "impl", "data_format", "peak_rss_mb", "start_rss_mb"}: peak_rss_mb is the process's
//    peak resident memory so far, start_rss_mb its resident memory when main()
//    began, so one shape per process gives that shape's peak as the difference
//    (scripts/bench-memory.py does that beside PyTorch).
// FLOPs: forward = 2*N*OH*OW*C*dm*k*k (depthwise) + 2*N*OH*OW*C*dm*F (pointwise),
// for Conv2D 2*N*OH*OW*F*k*k*C/groups;
// train = 3 x forward (the backward pass does two products of the size of each
// forward one: to the input and to the weights). Bias and relu are not counted.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cli_numbers.h"
#include "sepconv/autograd/separable.h"
#include "sepconv/autograd/tape.h"
#include "sepconv/core/parallel.h"
#include "sepconv/core/tensor.h"
#include "sepconv/layers/conv2d.h"
#include "sepconv/layers/separable_conv2d.h"

using namespace sepconv;

namespace {

struct BenchShape {
  const char* name;
  int64_t n, h, w, c, f, k, s, dm;
};
// MobileNet v1/v2 and Xception layers, as in torch_sepconv.py.
const BenchShape kShapes[] = {
    {"mnv1_112x112x32_f64", 8, 112, 112, 32, 64, 3, 1, 1},
    {"mnv1_112x112x64_s2_f128", 8, 112, 112, 64, 128, 3, 2, 1},
    {"mnv1_56x56x128_f128", 8, 56, 56, 128, 128, 3, 1, 1},
    {"mnv1_28x28x256_f256", 8, 28, 28, 256, 256, 3, 1, 1},
    {"mnv1_14x14x512_f512", 8, 14, 14, 512, 512, 3, 1, 1},
    {"mnv2_56x56x144_f24", 8, 56, 56, 144, 24, 3, 1, 1},
    {"xception_19x19x728_f728", 8, 19, 19, 728, 728, 3, 1, 1},
    {"k5_dm2_32x32x32_f64", 64, 32, 32, 32, 64, 5, 1, 2},
};

struct Conv2DShape {
  const char* name;
  int64_t n, h, w, c, f, k, s, groups;
};
// Stems, 3x3s, 1x1s and a grouped conv of small CNNs, as in torch_conv2d.py.
const Conv2DShape kConv2DShapes[] = {
    {"stem_224x224x3_f32_s2", 8, 224, 224, 3, 32, 3, 2, 1},
    {"conv_112x112x32_f64_s2", 8, 112, 112, 32, 64, 3, 2, 1},
    {"conv_56x56x64_f64", 8, 56, 56, 64, 64, 3, 1, 1},
    {"conv_28x28x128_f128", 8, 28, 28, 128, 128, 3, 1, 1},
    {"pw_56x56x24_f144", 8, 56, 56, 24, 144, 1, 1, 1},
    {"pw_14x14x96_f576", 8, 14, 14, 96, 576, 1, 1, 1},
    {"grouped_28x28x128_f128_g4", 8, 28, 28, 128, 128, 3, 1, 4},
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool g_cpu_time = false;
double clock_ms() {
  timespec ts;
  clock_gettime(g_cpu_time ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

template <typename F>
double median_ms(F&& fn, double min_time) {
  for (int i = 0; i < 3; ++i) fn();
  std::vector<double> ts;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(min_time);
  while (ts.size() < 3 || std::chrono::steady_clock::now() < end) {
    const double t0 = clock_ms();
    fn();
    ts.push_back(clock_ms() - t0);
  }
  std::sort(ts.begin(), ts.end());
  return ts[ts.size() / 2];
}

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;  // KiB on Linux
}

double current_rss_mb() {
  long pages_total = 0, pages_resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
    std::fclose(f);
  }
  return pages_resident * (sysconf(_SC_PAGESIZE) / 1048576.0);
}

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "%s\nusage: sepconv-bench [--suite separable|conv2d] [--threads N] [--shapes a,b,...] [--modes forward,train] "
               "[--impl layer|op] [--data-format channels_last|channels_first] [--min-time SECONDS] [--cpu-time] "
               "[--list-shapes]\n",
               msg);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) try {
  const double start_rss_mb = current_rss_mb();
  int threads = 0;
  std::vector<std::string> shapes, modes = {"forward", "train"};
  std::string impl = "layer", data_format = "channels_last", suite = "separable";
  double min_time = 1.0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--threads") threads = cli::parse_integer<int>(a, value(), 1, max_num_threads());
    else if (a == "--suite") suite = value();
    else if (a == "--shapes") shapes = split(value());
    else if (a == "--modes") modes = split(value());
    else if (a == "--impl") impl = value();
    else if (a == "--data-format") data_format = value();
    else if (a == "--min-time") min_time = cli::parse_real(a, value(), 0, 3600);
    else if (a == "--cpu-time") g_cpu_time = true;
    else if (a == "--list-shapes") {
      if (suite == "conv2d")
        for (const Conv2DShape& s : kConv2DShapes) std::printf("%s\n", s.name);
      else
        for (const BenchShape& s : kShapes) std::printf("%s\n", s.name);
      return 0;
    }
    else usage(("unknown argument " + a).c_str());
  }
  if (suite != "separable" && suite != "conv2d") usage("--suite must be separable or conv2d");
  if (impl != "layer" && impl != "op") usage("--impl must be layer or op");
  if (data_format != "channels_last" && data_format != "channels_first")
    usage("--data-format must be channels_last or channels_first");
  const bool channels_first = data_format == "channels_first";
  for (const std::string& m : modes)
    if (m != "forward" && m != "train") usage(("unknown mode " + m).c_str());
  for (const std::string& name : shapes) {
    bool known = false;
    for (const BenchShape& s : kShapes) known |= suite == "separable" && name == s.name;
    for (const Conv2DShape& s : kConv2DShapes) known |= suite == "conv2d" && name == s.name;
    if (!known) usage(("unknown shape " + name).c_str());
  }
  set_num_threads(threads);
  const int used_threads = num_threads();

  std::mt19937 rng(0);
  std::normal_distribution<float> normal;
  auto report = [&](const char* name, const std::string& mode, double ms, double flops) {
    std::printf(
        "{\"shape\": \"%s\", \"mode\": \"%s\", \"ms\": %.3f, \"gflops\": %.1f, \"threads\": %d, \"impl\": \"%s\", "
        "\"data_format\": \"%s\", \"peak_rss_mb\": %.1f, \"start_rss_mb\": %.1f}\n",
        name, mode.c_str(), ms, flops / ms * 1e-6, used_threads, impl.c_str(), data_format.c_str(), peak_rss_mb(),
        start_rss_mb);
    std::fflush(stdout);
  };
  if (suite == "conv2d") {
    for (const Conv2DShape& s : kConv2DShapes) {
      if (!shapes.empty() && std::find(shapes.begin(), shapes.end(), s.name) == shapes.end()) continue;
      Tensor<float> xt = channels_first ? Tensor<float>({s.n, s.c, s.h, s.w}) : Tensor<float>({s.n, s.h, s.w, s.c});
      for (auto& v : xt) v = normal(rng);
      Variable<float> x(xt, false);
      Conv2D<float> layer(Conv2DOptions(s.f, s.k)
                              .strides(s.s)
                              .padding("same")
                              .groups(s.groups)
                              .activation("relu")
                              .data_format(data_format));
      Shape out_shape;
      {
        NoGradGuard no_grad;
        out_shape = layer(x).shape();  // builds the weights
      }
      const int64_t oh = out_shape[channels_first ? 2 : 1], ow = out_shape[channels_first ? 3 : 2];
      const double fwd_flops = 2.0 * s.n * oh * ow * s.f * s.k * s.k * (s.c / s.groups);
      const Tensor<float> seed = Tensor<float>::full(out_shape, 1.0f);
      std::vector<Variable<float>> params = {x, layer.weight("kernel").variable, layer.weight("bias").variable};
      for (const std::string& mode : modes) {
        if (mode == "forward") {
          x.set_requires_grad(false);
          report(s.name, mode, median_ms([&] {
                   NoGradGuard no_grad;
                   Variable<float> y = layer(x);
                 }, min_time), fwd_flops);
        } else {
          x.set_requires_grad(true);
          params[0] = x;
          report(s.name, mode, median_ms([&] {
                   Variable<float> y = layer(x);
                   Tape<float>::current().backward(y, seed);
                   for (auto& p : params) p.zero_grad();
                 }, min_time), 3 * fwd_flops);
        }
      }
    }
    return 0;
  }
  for (const BenchShape& s : kShapes) {
    if (!shapes.empty() && std::find(shapes.begin(), shapes.end(), s.name) == shapes.end()) continue;
    Tensor<float> xt = channels_first ? Tensor<float>({s.n, s.c, s.h, s.w}) : Tensor<float>({s.n, s.h, s.w, s.c});
    for (auto& v : xt) v = normal(rng);
    Variable<float> x(xt, false);

    SeparableConv2D<float> layer(SeparableConv2DOptions(s.f, s.k)
                                     .strides(s.s)
                                     .padding("same")
                                     .depth_multiplier(s.dm)
                                     .activation("relu")
                                     .data_format(data_format));
    Variable<float> probe;
    {
      NoGradGuard no_grad;
      probe = layer(x);  // builds the weights
    }
    const Shape out_shape = probe.shape();
    const int64_t oh = out_shape[channels_first ? 2 : 1], ow = out_shape[channels_first ? 3 : 2];
    probe = Variable<float>();
    Variable<float> dk = layer.weight("depthwise_kernel").variable;
    Variable<float> pk = layer.weight("pointwise_kernel").variable;
    Variable<float> bias = layer.weight("bias").variable;
    auto run = [&]() -> Variable<float> {
      if (impl == "layer") return layer(x);
      return separable_conv2d(x, dk, pk, std::optional<Variable<float>>(bias), {s.s, s.s}, {1, 1}, Padding::Same,
                              SeparableActivation::Relu,
                              channels_first ? DataFormat::ChannelsFirst : DataFormat::ChannelsLast);
    };

    const double fwd_flops = 2.0 * s.n * oh * ow * s.c * s.dm * s.k * s.k + 2.0 * s.n * oh * ow * s.c * s.dm * s.f;
    const Tensor<float> seed = Tensor<float>::full(out_shape, 1.0f);
    for (const std::string& mode : modes) {
      double ms;
      double flops;
      if (mode == "forward") {
        x.set_requires_grad(false);
        ms = median_ms(
            [&] {
              NoGradGuard no_grad;
              Variable<float> y = run();
            },
            min_time);
        flops = fwd_flops;
      } else {
        x.set_requires_grad(true);
        std::vector<Variable<float>> params = {x, dk, pk, bias};
        ms = median_ms(
            [&] {
              Variable<float> y = run();
              Tape<float>::current().backward(y, seed);
              for (auto& p : params) p.zero_grad();
            },
            min_time);
        flops = 3 * fwd_flops;
      }
      report(s.name, mode, ms, flops);
    }
  }
  return 0;
} catch (const cli::OptionError& e) {  // a --threads or --min-time out of range or not a number
  usage(e.what());
}
