#include "sepconv/core/cpu.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sepconv::cpu {

namespace {
Isa probe() {
#if defined(__x86_64__) || defined(__i386__)
  // libgcc's __builtin_cpu_supports checks both the CPUID bits and that the OS
  // saves the wider register state (XGETBV), so a "yes" is safe to act on.
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
#endif
  return Isa::Generic;
}

Isa initial() {
  const Isa hw = detected_isa();
  const char* env = std::getenv("SEPCONV_ISA");
  if (!env || !*env) return hw;
  Isa wanted;
  if (!parse_isa(env, wanted)) {
    // A bad value must not stop the program; say so once and keep the hardware's choice.
    std::fprintf(stderr, "sepconv: ignoring SEPCONV_ISA=%s (expected avx512, avx2 or generic)\n", env);
    return hw;
  }
  return wanted < hw ? wanted : hw;
}

std::atomic<int>& active_slot() {
  static std::atomic<int> slot{static_cast<int>(initial())};
  return slot;
}
}  // namespace

Isa detected_isa() {
  static const Isa isa = probe();
  return isa;
}

Isa active_isa() { return static_cast<Isa>(active_slot().load(std::memory_order_relaxed)); }

void set_active_isa(Isa isa) {
  const Isa hw = detected_isa();
  active_slot().store(static_cast<int>(isa < hw ? isa : hw), std::memory_order_relaxed);
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "generic";
  }
}

bool parse_isa(const char* name, Isa& out) {
  if (!name) return false;
  if (!std::strcmp(name, "avx512")) out = Isa::Avx512;
  else if (!std::strcmp(name, "avx2")) out = Isa::Avx2;
  else if (!std::strcmp(name, "generic")) out = Isa::Generic;
  else return false;
  return true;
}

}  // namespace sepconv::cpu
