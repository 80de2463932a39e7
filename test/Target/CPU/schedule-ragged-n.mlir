// A matmul whose N is not a multiple of the workgroup tile (GPT-2's lm head: N = 50257) is split
// into two independent parts with static shapes: the divisible columns and the edge. Each part
// gets the matmul schedule (names suffixed _0 / _1), and distribution gives each its own
// workgroups: workgroup ids [0, tiles of part 0) run part 0, the rest part 1 (scf.if on the id).
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v3 --dump-schedules --print-dispatches -o %t.so 2>&1 | FileCheck %s
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v3 --emit=distributed | FileCheck %s --check-prefix=DIST
//
// CHECK-LABEL: schedule of dispatch 'head_tb'
// CHECK: tile_using_forall %root_0 tile_sizes [16, 64]
// CHECK: tile_using_forall %root_1 tile_sizes [16, 44]
// CHECK: transform.loop.peel %trlf_1
// CHECK: transform.loop.peel %lnf_1
// CHECK-LABEL: schedule of dispatch 'head_bias'
// CHECK: tile_using_forall %root_0 tile_sizes [16, 64]
// CHECK: fuse_into_containing_op %mm_0 into %wg_0
// CHECK: tile_using_forall %root_1 tile_sizes [16, 44]
// CHECK-LABEL: schedule of dispatch 'divisible'
// CHECK-NOT: %root_0
// CHECK: tile_using_forall %root tile_sizes [16, 64]
// 300 = 4 x 64 + 44: 4 + 1 workgroups.
// CHECK: dispatch head_tb: buffers 3, workgroups 5x1x1
// CHECK: dispatch head_bias: buffers 4, workgroups 5x1x1
// CHECK: dispatch divisible: buffers 3, workgroups 4x1x1
//
// DIST-LABEL: func.func @head_tb
// DIST: scf.for %[[WG:.*]] = %{{.*}} to %{{.*}} step
// DIST: %[[IN:.*]] = arith.cmpi ult, %[[WG]], %c4
// DIST: scf.if %[[IN]]
// DIST: } else {
// DIST: memref.subview %{{.*}}[0, 256] [16, 44]
//
// Numerics against numpy at 2 threads (Inputs/run_dispatch.py).
// RUN: %kiln_cpu_compile %s -o %t.host.so
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch head_tb --ref matmul_tb --inputs 16x64,300x64 --output 16x300 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch head_bias --ref matmul_bias --inputs 16x64,64x300,300 --output 16x300 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch head_tb --ref matmul_tb --inputs 16x64,300x64 --output 16x300 --threads 1 | FileCheck %s --check-prefix=NUM
// NUM: max abs error

func.func @head_tb(%a: tensor<16x64xf32>, %w: tensor<300x64xf32>) -> tensor<16x300xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x300xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<16x300xf32>) -> tensor<16x300xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<16x64xf32>, tensor<300x64xf32>) outs(%f : tensor<16x300xf32>) -> tensor<16x300xf32>
  return %m : tensor<16x300xf32>
}

func.func @head_bias(%a: tensor<16x64xf32>, %b: tensor<64x300xf32>, %bias: tensor<300xf32>) -> tensor<16x300xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x300xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<16x300xf32>) -> tensor<16x300xf32>
  %m = linalg.matmul ins(%a, %b : tensor<16x64xf32>, tensor<64x300xf32>) outs(%f : tensor<16x300xf32>) -> tensor<16x300xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%m, %bias : tensor<16x300xf32>, tensor<300xf32>) outs(%e : tensor<16x300xf32>) {
  ^bb0(%x: f32, %c: f32, %o: f32):
    %s = arith.addf %x, %c : f32
    linalg.yield %s : f32
  } -> tensor<16x300xf32>
  return %y : tensor<16x300xf32>
}

func.func @divisible(%a: tensor<16x64xf32>, %b: tensor<64x256xf32>) -> tensor<16x256xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x256xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<16x256xf32>) -> tensor<16x256xf32>
  %m = linalg.matmul ins(%a, %b : tensor<16x64xf32>, tensor<64x256xf32>) outs(%f : tensor<16x256xf32>) -> tensor<16x256xf32>
  return %m : tensor<16x256xf32>
}
