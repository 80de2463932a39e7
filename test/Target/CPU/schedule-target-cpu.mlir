// The schedules' vector width comes from the target CPU's own features, not from the machine
// that compiles: 512 bits (8 x 32 register blocks) for a CPU with AVX-512F, 256 bits (6 x 16)
// otherwise, on any host. --mattr adds or removes features (removing avx512f removes the
// subsets that need it); --schedule-vector-bits still overrides the width.
// RUN: %kiln_cpu_compile %s --emit=scheduled --mcpu=x86-64-v4 | FileCheck %s --check-prefix=W512
// RUN: %kiln_cpu_compile %s --emit=scheduled --mcpu=znver4 | FileCheck %s --check-prefix=W512
// RUN: %kiln_cpu_compile %s --emit=scheduled --mcpu=sapphirerapids | FileCheck %s --check-prefix=W512
// RUN: %kiln_cpu_compile %s --emit=scheduled --mcpu=x86-64-v3 --mattr=+avx512f | FileCheck %s --check-prefix=W512
// RUN: %kiln_cpu_compile %s --emit=scheduled --mcpu=x86-64-v3 | FileCheck %s --check-prefix=W256
// RUN: %kiln_cpu_compile %s --emit=scheduled --mcpu=znver3 | FileCheck %s --check-prefix=W256
// RUN: %kiln_cpu_compile %s --emit=scheduled --mcpu=x86-64-v4 --mattr=-avx512f | FileCheck %s --check-prefix=W256
// RUN: %kiln_cpu_compile %s --emit=scheduled --mcpu=x86-64-v4 --schedule-vector-bits=256 | FileCheck %s --check-prefix=W256

// W512-LABEL: func.func @mm(
// W512:         vector.outerproduct {{.*}} : vector<8xf32>, vector<32xf32>
// W256-LABEL: func.func @mm(
// W256:         vector.outerproduct {{.*}} : vector<6xf32>, vector<16xf32>
// W256-NOT:     vector<32xf32>

// The code keeps the 512-bit vectors whole on such a CPU (LLVM would otherwise split them on
// CPUs tuned for 256-bit code), and only there.
// RUN: %kiln_cpu_compile %s --emit=llvm-ir --mcpu=x86-64-v4 | FileCheck %s --check-prefix=IR512
// RUN: %kiln_cpu_compile %s --emit=llvm-ir --mcpu=x86-64-v3 | FileCheck %s --check-prefix=IR256
// IR512: "prefer-vector-width"="512"
// IR512-SAME: "target-cpu"="x86-64-v4"
// IR256-NOT: "prefer-vector-width"="512"
// IR256: "target-cpu"="x86-64-v3"

// The same validation as kilnc --cpu / --cpu-features.
// RUN: not %kiln_cpu_compile %s --mcpu=nonsense 2>&1 | FileCheck %s --check-prefix=BADCPU
// RUN: not %kiln_cpu_compile %s --mcpu=x86-64-v3 --mattr=+nonsense 2>&1 | FileCheck %s --check-prefix=BADFEATURE
// BADCPU: kiln-cpu-compile: error: --mcpu: unknown CPU 'nonsense'
// BADFEATURE: kiln-cpu-compile: error: --mattr: unknown CPU feature 'nonsense'
func.func @mm(%a: tensor<64x96xf32>, %b: tensor<96x768xf32>) -> tensor<64x768xf32> {
  %e = tensor.empty() : tensor<64x768xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64x768xf32>) -> tensor<64x768xf32>
  %m = linalg.matmul ins(%a, %b : tensor<64x96xf32>, tensor<96x768xf32>) outs(%f : tensor<64x768xf32>) -> tensor<64x768xf32>
  return %m : tensor<64x768xf32>
}
