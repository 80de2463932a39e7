// prefetchWeightPanels: a matmul that packs panels of weights stored [N, K] reads the next
// panel (the weight rows after the ones being computed on, one contiguous run) ahead, one cache
// line per run of K steps of its register kernels, each register block taking its share of the
// panel. With AVX2 a workgroup packs one 16-column panel per column group, so the next panel
// is the next group's, or the next workgroup's first. The result must not change; the K loop
// is cut into runs, so the numerics are checked at 1 and 2 threads.
//
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v3 --emit=bufferized -o - | FileCheck %s
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v3 --emit=bufferized --prefetch-panels=false -o - | FileCheck %s --check-prefix=OFF
//
// 64 rows: 6-row register blocks (and a peeled 4-row one), each with its share of the 256 x 16
// panel: 6 x 16 blocks 2 elements per K step (rounded up), so a run of 8 steps per 64-byte
// line; 4 x 16 blocks 1 element per step, runs of 16.
// CHECK-LABEL: func.func @tb_prefill(
// CHECK: %[[FLAT:.*]] = memref.collapse_shape %arg1 {{\[\[}}0, 1]] : memref<128x256xf32> into memref<32768xf32>
// CHECK: memref.alloca() {{.*}} : memref<256x16xf32>
// CHECK: scf.forall
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c16 {
// The next panel: 16 rows on, at most the last 16 rows.
// CHECK: %[[NEXT:.*]] = arith.minsi %{{.*}}, %c112
// CHECK: arith.muli %[[NEXT]], %c256
// CHECK: scf.for %{{.*}} = %c0 to %c256 step %c8 iter_args(%{{.*}}) -> (vector<6x16xf32>)
// CHECK: memref.prefetch %[[FLAT]][%{{.*}}], read, locality<3>, data
// CHECK: scf.for %{{.*}} iter_args(%{{.*}}) -> (vector<6x16xf32>)
// CHECK: vector.outerproduct
// CHECK: scf.for %{{.*}} = %c0 to %c256 step %c16 iter_args(%{{.*}}) -> (vector<4x16xf32>)
// CHECK: memref.prefetch %[[FLAT]]
//
// 128 rows: one element per K step, runs of 16 steps.
// CHECK-LABEL: func.func @tb_rows128(
// CHECK: scf.for %{{.*}} = %c0 to %c256 step %c16 iter_args(%{{.*}}) -> (vector<6x16xf32>)
// CHECK: memref.prefetch
//
// With an epilogue (bias) fused into the register blocks.
// CHECK-LABEL: func.func @tb_bias(
// CHECK: scf.for %{{.*}} = %c0 to %c256 step %c8 iter_args(%{{.*}}) -> (vector<6x16xf32>)
// CHECK: memref.prefetch
//
// bf16 weights: the panel is packed f32, the weights read ahead are bf16.
// CHECK-LABEL: func.func @tb_bf16(
// CHECK: memref.collapse_shape %arg1 {{\[\[}}0, 1]] : memref<128x256xbf16> into memref<32768xbf16>
// CHECK: memref.prefetch
//
// The down projection's K = 3072: 3072 x 16 micro-panels (192 KiB), the next one read ahead
// beside it although the workgroup's 64 x 3072 rows of A (768 KiB) do not fit L2.
// CHECK-LABEL: func.func @deep_k(
// CHECK: memref.alloca() {{.*}} : memref<3072x16xf32>
// CHECK: scf.for %{{.*}} = %c0 to %c3072 step %c8 iter_args(%{{.*}}) -> (vector<6x16xf32>)
// CHECK: memref.prefetch
//
// K = 4096: one 16-column panel per workgroup (256 KiB); the next would not fit in L2 beside it.
// CHECK-LABEL: func.func @deeper_k(
// CHECK: memref.alloca() {{.*}} : memref<4096x16xf32>
// CHECK-NOT: memref.prefetch
// CHECK: return
//
// Weights stored [K, N] (a copy, not a transpose): the panel is not one contiguous run.
// CHECK-LABEL: func.func @kn_prefill(
// CHECK-NOT: memref.prefetch
// CHECK: return
//
// OFF-NOT: memref.prefetch
//
// RUN: %kiln_cpu_compile %s -o %t.so
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch tb_prefill --ref matmul_tb --inputs 64x256,128x256 --output 64x128 --threads 1 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch tb_prefill --ref matmul_tb --inputs 64x256,128x256 --output 64x128 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch tb_rows128 --ref matmul_tb --inputs 128x256,128x256 --output 128x128 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch tb_bias --ref matmul_tb_bias --inputs 64x256,192x256,192 --output 64x192 --threads 1 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch tb_bias --ref matmul_tb_bias --inputs 64x256,192x256,192 --output 64x192 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch tb_bf16 --ref matmul_tb --inputs 64x256,128x256 --bf16 1 --output 64x128 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch deep_k --ref matmul_tb --inputs 64x3072,64x3072 --output 64x64 --tol 2e-4 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch deep_k --ref matmul_tb --inputs 64x3072,64x3072 --output 64x64 --tol 2e-4 --threads 1 | FileCheck %s --check-prefix=NUM
// NUM: max abs error {{.*}} (tolerance

func.func @tb_prefill(%a: tensor<64x256xf32>, %w: tensor<128x256xf32>) -> tensor<64x128xf32> {
  %e = tensor.empty() : tensor<64x128xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64x128xf32>) -> tensor<64x128xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<64x256xf32>, tensor<128x256xf32>) outs(%f : tensor<64x128xf32>) -> tensor<64x128xf32>
  return %m : tensor<64x128xf32>
}

func.func @tb_rows128(%a: tensor<128x256xf32>, %w: tensor<128x256xf32>) -> tensor<128x128xf32> {
  %e = tensor.empty() : tensor<128x128xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<128x128xf32>) -> tensor<128x128xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<128x256xf32>, tensor<128x256xf32>) outs(%f : tensor<128x128xf32>) -> tensor<128x128xf32>
  return %m : tensor<128x128xf32>
}

func.func @tb_bias(%a: tensor<64x256xf32>, %w: tensor<192x256xf32>, %bias: tensor<192xf32>) -> tensor<64x192xf32> {
  %e = tensor.empty() : tensor<64x192xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64x192xf32>) -> tensor<64x192xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<64x256xf32>, tensor<192x256xf32>) outs(%f : tensor<64x192xf32>) -> tensor<64x192xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%m, %bias : tensor<64x192xf32>, tensor<192xf32>) outs(%e : tensor<64x192xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  } -> tensor<64x192xf32>
  return %g : tensor<64x192xf32>
}

func.func @tb_bf16(%a: tensor<64x256xf32>, %w: tensor<128x256xbf16>) -> tensor<64x128xf32> {
  %e = tensor.empty() : tensor<64x128xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64x128xf32>) -> tensor<64x128xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<64x256xf32>, tensor<128x256xbf16>) outs(%f : tensor<64x128xf32>) -> tensor<64x128xf32>
  return %m : tensor<64x128xf32>
}

func.func @deep_k(%a: tensor<64x3072xf32>, %w: tensor<64x3072xf32>) -> tensor<64x64xf32> {
  %e = tensor.empty() : tensor<64x64xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64x64xf32>) -> tensor<64x64xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<64x3072xf32>, tensor<64x3072xf32>) outs(%f : tensor<64x64xf32>) -> tensor<64x64xf32>
  return %m : tensor<64x64xf32>
}

func.func @deeper_k(%a: tensor<64x4096xf32>, %w: tensor<64x4096xf32>) -> tensor<64x64xf32> {
  %e = tensor.empty() : tensor<64x64xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64x64xf32>) -> tensor<64x64xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<64x4096xf32>, tensor<64x4096xf32>) outs(%f : tensor<64x64xf32>) -> tensor<64x64xf32>
  return %m : tensor<64x64xf32>
}

func.func @kn_prefill(%a: tensor<64x256xf32>, %w: tensor<256x128xf32>) -> tensor<64x128xf32> {
  %e = tensor.empty() : tensor<64x128xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64x128xf32>) -> tensor<64x128xf32>
  %m = linalg.matmul ins(%a, %w : tensor<64x256xf32>, tensor<256x128xf32>) outs(%f : tensor<64x128xf32>) -> tensor<64x128xf32>
  return %m : tensor<64x128xf32>
}
