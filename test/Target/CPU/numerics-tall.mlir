// Matmuls with more rows than one 64-row tile (a prefill chunk or forward over 65+ tokens).
// Every workgroup tile covers up to 128 rows, so that its weight panel is packed once for all
// of them (two 64-row tiles each packed the same panel: GPT-2's 128-row shapes ran at
// 0.63-0.86 of OpenBLAS in nn.Linear's layout, 0.87-1.02 with one tile; bench/README.md).
// Above 128 rows the tiles are 128 rows and a ragged last one.
//
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v3 --dump-schedules --print-dispatches -o %t.so 2>&1 | FileCheck %s
// CHECK-LABEL: schedule of dispatch 'tall128_tb_bias'
// CHECK: tile_using_forall %root tile_sizes [128, 64]
// CHECK-LABEL: schedule of dispatch 'tall100_tb'
// CHECK: tile_using_forall %root tile_sizes [100, 64]
// CHECK-LABEL: schedule of dispatch 'tall200'
// CHECK: tile_using_forall %root tile_sizes [128, 64]
// CHECK: dispatch tall128_tb_bias: buffers 4, workgroups 4x1x1
// CHECK: dispatch tall100_tb: buffers 3, workgroups 4x1x1
// CHECK: dispatch tall200: buffers 3, workgroups 4x2x1
//
// Numerics against numpy, on this machine's code and on AVX2 code, at 1 and 2 threads.
// RUN: %kiln_cpu_compile %s -o %t.host.so
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch tall128_tb_bias --ref matmul_tb_bias --inputs 128x768,256x768,256 --output 128x256 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch tall100_tb --ref matmul_tb --inputs 100x96,256x96 --output 100x256 --threads 1 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch tall200 --ref matmul --inputs 200x96,96x256 --output 200x256 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch tall128_tb_bias --ref matmul_tb_bias --inputs 128x768,256x768,256 --output 128x256 --threads 1 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch tall100_tb --ref matmul_tb --inputs 100x96,256x96 --output 100x256 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch tall200 --ref matmul --inputs 200x96,96x256 --output 200x256 | FileCheck %s --check-prefix=NUM
// NUM: max abs error {{.*}} (tolerance 0.0001)

func.func @tall128_tb_bias(%a: tensor<128x768xf32>, %w: tensor<256x768xf32>, %bias: tensor<256xf32>) -> tensor<128x256xf32> {
  %e = tensor.empty() : tensor<128x256xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<128x256xf32>) -> tensor<128x256xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<128x768xf32>, tensor<256x768xf32>) outs(%f : tensor<128x256xf32>) -> tensor<128x256xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%m, %bias : tensor<128x256xf32>, tensor<256xf32>) outs(%e : tensor<128x256xf32>) {
  ^bb0(%x: f32, %b: f32, %o: f32):
    %s = arith.addf %x, %b : f32
    linalg.yield %s : f32
  } -> tensor<128x256xf32>
  return %g : tensor<128x256xf32>
}

func.func @tall100_tb(%a: tensor<100x96xf32>, %w: tensor<256x96xf32>) -> tensor<100x256xf32> {
  %e = tensor.empty() : tensor<100x256xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<100x256xf32>) -> tensor<100x256xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<100x96xf32>, tensor<256x96xf32>) outs(%f : tensor<100x256xf32>) -> tensor<100x256xf32>
  return %m : tensor<100x256xf32>
}

func.func @tall200(%a: tensor<200x96xf32>, %w: tensor<96x256xf32>) -> tensor<200x256xf32> {
  %e = tensor.empty() : tensor<200x256xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<200x256xf32>) -> tensor<200x256xf32>
  %m = linalg.matmul ins(%a, %w : tensor<200x96xf32>, tensor<96x256xf32>) outs(%f : tensor<200x256xf32>) -> tensor<200x256xf32>
  return %m : tensor<200x256xf32>
}
