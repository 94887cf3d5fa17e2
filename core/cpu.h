#pragma once
// Run-time CPU feature detection for the per-ISA kernels.
//
// The library is compiled for baseline x86-64; kernels built with AVX2+FMA or
// AVX-512 flags (core/kernels/*_avx2.cpp, *_avx512.cpp) are only called when
// active_isa() allows them. The environment variable SEPCONV_ISA
// (avx512 | avx2 | generic) lowers the choice, so every path can be tested on
// one machine; it can never raise it above what the CPU and OS support.
namespace sepconv::cpu {

enum class Isa { Generic = 0, Avx2 = 1, Avx512 = 2 };

// Best ISA the CPU and the OS (saved register state) support.
Isa detected_isa();
// The ISA kernels dispatch on: detected_isa(), lowered by SEPCONV_ISA or set_active_isa().
Isa active_isa();
// Lowers (or restores) the active ISA for this process; clamped to detected_isa().
// Meant for tests and benchmarks that compare paths; not for use while kernels run.
void set_active_isa(Isa isa);
// "avx512", "avx2", "generic".
const char* isa_name(Isa isa);
// Parses an ISA name as SEPCONV_ISA spells it; returns false for anything else.
bool parse_isa(const char* name, Isa& out);

// Scope guard for tests: lowers the active ISA, restores the previous one on exit.
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa) : previous_(active_isa()) { set_active_isa(isa); }
  ~ScopedIsa() { set_active_isa(previous_); }
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  Isa previous_;
};

}  // namespace sepconv::cpu
