// Batched contractions (attention's scores QK^T + scale + causal mask, PV + division by the row
// sum, batch_matmul) get the batched-contraction schedule: one workgroup per batch index, head and
// row tile, the key operand packed per workgroup when it is not contiguous along N, register
// blocks of outer products (AVX2 here: 4 x 16).
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v3 --dump-schedules --print-dispatches -o %t.so 2>&1 | FileCheck %s
//
// CHECK-LABEL: schedule of dispatch 'scores_ragged'
// CHECK: tile_using_forall %root tile_sizes [1, 1, 7, 0]
// CHECK: fuse_into_containing_op %c into
// CHECK: fuse_into_containing_op %pk into
// CHECK: tile_using_for %t0 tile_sizes [0, 0, 1, 7]
// CHECK-NOT: transform.loop.peel
// CHECK-LABEL: schedule of dispatch 'scores_gpt2'
// CHECK: tile_using_forall %root tile_sizes [1, 1, 32, 0]
// CHECK: fuse_into_containing_op %pk into
// CHECK: tile_using_for %pk0 tile_sizes [0, 0, 8, 8]
// CHECK: tile_using_for %t0 tile_sizes [0, 0, 4, 16]
// CHECK-LABEL: schedule of dispatch 'scores_peel'
// CHECK: tile_using_for %t0 tile_sizes [0, 0, 1, 8]
// CHECK: transform.loop.peel
// One query against keys contiguous along D: dot products read the keys in place (no pack),
// 8 (or 4) keys side by side, each with a vector accumulator along D.
// CHECK-LABEL: schedule of dispatch 'scores_decode'
// CHECK-NOT: kiln.cpu.pack
// CHECK: tile_using_forall %root tile_sizes [1, 1, 1, 0]
// CHECK: tile_using_for %t0 tile_sizes [0, 0, 1, 8]
// CHECK: tile_reduction_using_for %cs by tile_sizes = [0, 0, 0, 0, 8]
// CHECK-LABEL: schedule of dispatch 'scores_decode_rows4'
// CHECK-NOT: kiln.cpu.pack
// CHECK: tile_using_for %t0 tile_sizes [0, 0, 1, 4]
// CHECK: tile_reduction_using_for %cs by tile_sizes = [0, 0, 0, 0, 8]
// A D that is not a multiple of the vector keeps the pack.
// CHECK-LABEL: schedule of dispatch 'scores_decode_ragged_d'
// CHECK: fuse_into_containing_op %pk into
// CHECK-NOT: tile_reduction_using_for
// CHECK-LABEL: schedule of dispatch 'pv_ragged'
// CHECK-NOT: kiln.cpu.pack
// CHECK: tile_using_forall %root tile_sizes [1, 7, 1, 0]
// CHECK: tile_using_for %t0 tile_sizes [0, 1, 0, 8]
// CHECK: transform.loop.peel
// CHECK-LABEL: schedule of dispatch 'pv_gpt2'
// CHECK-NOT: kiln.cpu.pack
// CHECK: tile_using_forall %root tile_sizes [1, 32, 1, 0]
// CHECK: tile_using_for %t0 tile_sizes [0, 4, 0, 16]
// CHECK: tile_using_for %cs tile_sizes [0, 0, 0, 0, 1]
// One query: a row of up to 8 vectors accumulates across the keys.
// CHECK-LABEL: schedule of dispatch 'pv_decode'
// CHECK: tile_using_for %t0 tile_sizes [0, 1, 0, 32]
// CHECK: tile_using_for %cs tile_sizes [0, 0, 0, 0, 1]
// CHECK-LABEL: schedule of dispatch 'pv_peel'
// CHECK: tile_using_forall %root tile_sizes [1, 8, 1, 0]
// CHECK: transform.loop.peel
// CHECK-LABEL: schedule of dispatch 'bmm_ragged'
// CHECK: tile_using_forall %root tile_sizes [1, 20, 0, 0]
// CHECK: tile_using_for %t0 tile_sizes [0, 4, 8, 0]
// CHECK: transform.loop.peel
// CHECK: tile_using_for %cs tile_sizes [0, 0, 0, 1]
//
// Workgroups: the forall's dimensions, the last one fastest (x); single-iteration dimensions
// (one row tile) fold away.
// CHECK: dispatch scores_ragged: buffers 3, workgroups 3x2x1
// CHECK: dispatch scores_gpt2: buffers 3, workgroups 2x12x1
// CHECK: dispatch scores_peel: buffers 3, workgroups 2x1x1
// CHECK: dispatch scores_decode: buffers 3, workgroups 3x1x1
// CHECK: dispatch scores_decode_rows4: buffers 3, workgroups 2x1x1
// CHECK: dispatch scores_decode_ragged_d: buffers 3, workgroups 2x1x1
// CHECK: dispatch pv_ragged: buffers 4, workgroups 3x2x1
// CHECK: dispatch pv_gpt2: buffers 4, workgroups 12x2x1
// CHECK: dispatch pv_decode: buffers 4, workgroups 2x1x1
// CHECK: dispatch pv_peel: buffers 4, workgroups 2x5x1
// CHECK: dispatch bmm_ragged: buffers 3, workgroups 3x1x1
//
// Numerics against numpy (Inputs/run_dispatch.py, float64 references written from the
// definitions), 2 threads, at ragged sizes and GPT-2's.
// RUN: %kiln_cpu_compile %s -o %t.host.so
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch scores_ragged --ref attn_scores --inputs 2x7x3x20,2x7x3x20 --output 2x3x7x7 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch scores_gpt2 --ref attn_scores --inputs 1x64x12x64,1x64x12x64 --output 1x12x64x64 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch scores_peel --ref attn_scores --inputs 1x37x2x24,1x37x2x24 --output 1x2x37x37 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch scores_decode --ref attn_scores --inputs 1x1x3x16,1x40x3x16 --output 1x3x1x40 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch scores_decode_rows4 --ref attn_scores --inputs 1x1x2x32,1x36x2x32 --output 1x2x1x36 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch scores_decode_ragged_d --ref attn_scores --inputs 1x1x2x20,1x24x2x20 --output 1x2x1x24 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch pv_decode --ref attn_pv --inputs 1x2x1x36,1x36x2x32,1x2x1 --positive 2 --output 1x1x2x32 | FileCheck %s --check-prefix=NUM
// The AVX2 code of decode's dot products too, where the host has AVX-512.
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch scores_decode --ref attn_scores --inputs 1x1x3x16,1x40x3x16 --output 1x3x1x40 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch scores_decode_rows4 --ref attn_scores --inputs 1x1x2x32,1x36x2x32 --output 1x2x1x36 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch pv_decode --ref attn_pv --inputs 1x2x1x36,1x36x2x32,1x2x1 --positive 2 --output 1x1x2x32 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch pv_ragged --ref attn_pv --inputs 2x3x7x7,2x7x3x20,2x3x7 --positive 2 --output 2x7x3x20 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch pv_gpt2 --ref attn_pv --inputs 1x12x64x64,1x64x12x64,1x12x64 --positive 2 --output 1x64x12x64 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch pv_peel --ref attn_pv --inputs 1x2x40x40,1x40x2x37,1x2x40 --positive 2 --output 1x40x2x37 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.host.so --dispatch bmm_ragged --ref bmm --inputs 3x20x30,3x30x50 --output 3x20x50 | FileCheck %s --check-prefix=NUM
// NUM: max abs error

func.func @scores_ragged(%q: tensor<2x7x3x20xf32>, %k: tensor<2x7x3x20xf32>) -> tensor<2x3x7x7xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x3x7x7xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3x7x7xf32>) -> tensor<2x3x7x7xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(b, h, s, t, d) -> (b, s, h, d)>, affine_map<(b, h, s, t, d) -> (b, t, h, d)>, affine_map<(b, h, s, t, d) -> (b, h, s, t)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<2x7x3x20xf32>, tensor<2x7x3x20xf32>) outs(%f : tensor<2x3x7x7xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  } -> tensor<2x3x7x7xf32>
  %scale = arith.constant 0.22360679774997896 : f32
  %min = arith.constant -3.40282347E+38 : f32
  %y = linalg.generic {indexing_maps = [affine_map<(b, h, s, t) -> (b, h, s, t)>, affine_map<(b, h, s, t) -> (b, h, s, t)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s : tensor<2x3x7x7xf32>) outs(%e : tensor<2x3x7x7xf32>) {
  ^bb0(%x: f32, %o: f32):
    %v = arith.mulf %x, %scale : f32
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %c = arith.cmpi sgt, %j, %i : index
    %r = arith.select %c, %min, %v : f32
    linalg.yield %r : f32
  } -> tensor<2x3x7x7xf32>
  return %y : tensor<2x3x7x7xf32>
}

func.func @scores_gpt2(%q: tensor<1x64x12x64xf32>, %k: tensor<1x64x12x64xf32>) -> tensor<1x12x64x64xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x12x64x64xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x12x64x64xf32>) -> tensor<1x12x64x64xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(b, h, s, t, d) -> (b, s, h, d)>, affine_map<(b, h, s, t, d) -> (b, t, h, d)>, affine_map<(b, h, s, t, d) -> (b, h, s, t)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<1x64x12x64xf32>, tensor<1x64x12x64xf32>) outs(%f : tensor<1x12x64x64xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x12x64x64xf32>
  %scale = arith.constant 0.125 : f32
  %min = arith.constant -3.40282347E+38 : f32
  %y = linalg.generic {indexing_maps = [affine_map<(b, h, s, t) -> (b, h, s, t)>, affine_map<(b, h, s, t) -> (b, h, s, t)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s : tensor<1x12x64x64xf32>) outs(%e : tensor<1x12x64x64xf32>) {
  ^bb0(%x: f32, %o: f32):
    %v = arith.mulf %x, %scale : f32
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %c = arith.cmpi sgt, %j, %i : index
    %r = arith.select %c, %min, %v : f32
    linalg.yield %r : f32
  } -> tensor<1x12x64x64xf32>
  return %y : tensor<1x12x64x64xf32>
}

func.func @scores_peel(%q: tensor<1x37x2x24xf32>, %k: tensor<1x37x2x24xf32>) -> tensor<1x2x37x37xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2x37x37xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x37x37xf32>) -> tensor<1x2x37x37xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(b, h, s, t, d) -> (b, s, h, d)>, affine_map<(b, h, s, t, d) -> (b, t, h, d)>, affine_map<(b, h, s, t, d) -> (b, h, s, t)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<1x37x2x24xf32>, tensor<1x37x2x24xf32>) outs(%f : tensor<1x2x37x37xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x37x37xf32>
  %scale = arith.constant 0.20412414523193154 : f32
  %min = arith.constant -3.40282347E+38 : f32
  %y = linalg.generic {indexing_maps = [affine_map<(b, h, s, t) -> (b, h, s, t)>, affine_map<(b, h, s, t) -> (b, h, s, t)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s : tensor<1x2x37x37xf32>) outs(%e : tensor<1x2x37x37xf32>) {
  ^bb0(%x: f32, %o: f32):
    %v = arith.mulf %x, %scale : f32
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %c = arith.cmpi sgt, %j, %i : index
    %r = arith.select %c, %min, %v : f32
    linalg.yield %r : f32
  } -> tensor<1x2x37x37xf32>
  return %y : tensor<1x2x37x37xf32>
}

func.func @scores_decode(%q: tensor<1x1x3x16xf32>, %k: tensor<1x40x3x16xf32>) -> tensor<1x3x1x40xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x3x1x40xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x3x1x40xf32>) -> tensor<1x3x1x40xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(b, h, s, t, d) -> (b, s, h, d)>, affine_map<(b, h, s, t, d) -> (b, t, h, d)>, affine_map<(b, h, s, t, d) -> (b, h, s, t)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<1x1x3x16xf32>, tensor<1x40x3x16xf32>) outs(%f : tensor<1x3x1x40xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x3x1x40xf32>
  %scale = arith.constant 0.25 : f32
  %min = arith.constant -3.40282347E+38 : f32
  %y = linalg.generic {indexing_maps = [affine_map<(b, h, s, t) -> (b, h, s, t)>, affine_map<(b, h, s, t) -> (b, h, s, t)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s : tensor<1x3x1x40xf32>) outs(%e : tensor<1x3x1x40xf32>) {
  ^bb0(%x: f32, %o: f32):
    %v = arith.mulf %x, %scale : f32
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %c = arith.cmpi sgt, %j, %i : index
    %r = arith.select %c, %min, %v : f32
    linalg.yield %r : f32
  } -> tensor<1x3x1x40xf32>
  return %y : tensor<1x3x1x40xf32>
}

func.func @scores_decode_rows4(%q: tensor<1x1x2x32xf32>, %k: tensor<1x36x2x32xf32>) -> tensor<1x2x1x36xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2x1x36xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x1x36xf32>) -> tensor<1x2x1x36xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(b, h, s, t, d) -> (b, s, h, d)>, affine_map<(b, h, s, t, d) -> (b, t, h, d)>, affine_map<(b, h, s, t, d) -> (b, h, s, t)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<1x1x2x32xf32>, tensor<1x36x2x32xf32>) outs(%f : tensor<1x2x1x36xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x1x36xf32>
  %scale = arith.constant 0.1767766952966369 : f32
  %min = arith.constant -3.40282347E+38 : f32
  %y = linalg.generic {indexing_maps = [affine_map<(b, h, s, t) -> (b, h, s, t)>, affine_map<(b, h, s, t) -> (b, h, s, t)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s : tensor<1x2x1x36xf32>) outs(%e : tensor<1x2x1x36xf32>) {
  ^bb0(%x: f32, %o: f32):
    %v = arith.mulf %x, %scale : f32
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %c = arith.cmpi sgt, %j, %i : index
    %r = arith.select %c, %min, %v : f32
    linalg.yield %r : f32
  } -> tensor<1x2x1x36xf32>
  return %y : tensor<1x2x1x36xf32>
}

func.func @scores_decode_ragged_d(%q: tensor<1x1x2x20xf32>, %k: tensor<1x24x2x20xf32>) -> tensor<1x2x1x24xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2x1x24xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x1x24xf32>) -> tensor<1x2x1x24xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(b, h, s, t, d) -> (b, s, h, d)>, affine_map<(b, h, s, t, d) -> (b, t, h, d)>, affine_map<(b, h, s, t, d) -> (b, h, s, t)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<1x1x2x20xf32>, tensor<1x24x2x20xf32>) outs(%f : tensor<1x2x1x24xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x1x24xf32>
  %scale = arith.constant 0.22360679774997896 : f32
  %min = arith.constant -3.40282347E+38 : f32
  %y = linalg.generic {indexing_maps = [affine_map<(b, h, s, t) -> (b, h, s, t)>, affine_map<(b, h, s, t) -> (b, h, s, t)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s : tensor<1x2x1x24xf32>) outs(%e : tensor<1x2x1x24xf32>) {
  ^bb0(%x: f32, %o: f32):
    %v = arith.mulf %x, %scale : f32
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %c = arith.cmpi sgt, %j, %i : index
    %r = arith.select %c, %min, %v : f32
    linalg.yield %r : f32
  } -> tensor<1x2x1x24xf32>
  return %y : tensor<1x2x1x24xf32>
}

func.func @pv_ragged(%p: tensor<2x3x7x7xf32>, %v: tensor<2x7x3x20xf32>, %l: tensor<2x3x7xf32>) -> tensor<2x7x3x20xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x7x3x20xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2x7x3x20xf32>) -> tensor<2x7x3x20xf32>
  %o = linalg.generic {indexing_maps = [affine_map<(b, h, s, t, d) -> (b, h, s, t)>, affine_map<(b, h, s, t, d) -> (b, t, h, d)>, affine_map<(b, h, s, t, d) -> (b, s, h, d)>], iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]} ins(%p, %v : tensor<2x3x7x7xf32>, tensor<2x7x3x20xf32>) outs(%f : tensor<2x7x3x20xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<2x7x3x20xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(b, s, h, d) -> (b, s, h, d)>, affine_map<(b, s, h, d) -> (b, h, s)>, affine_map<(b, s, h, d) -> (b, s, h, d)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%o, %l : tensor<2x7x3x20xf32>, tensor<2x3x7xf32>) outs(%e : tensor<2x7x3x20xf32>) {
  ^bb0(%x: f32, %d: f32, %out: f32):
    %r = arith.divf %x, %d : f32
    linalg.yield %r : f32
  } -> tensor<2x7x3x20xf32>
  return %y : tensor<2x7x3x20xf32>
}

func.func @pv_gpt2(%p: tensor<1x12x64x64xf32>, %v: tensor<1x64x12x64xf32>, %l: tensor<1x12x64xf32>) -> tensor<1x64x12x64xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x64x12x64xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x64x12x64xf32>) -> tensor<1x64x12x64xf32>
  %o = linalg.generic {indexing_maps = [affine_map<(b, h, s, t, d) -> (b, h, s, t)>, affine_map<(b, h, s, t, d) -> (b, t, h, d)>, affine_map<(b, h, s, t, d) -> (b, s, h, d)>], iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]} ins(%p, %v : tensor<1x12x64x64xf32>, tensor<1x64x12x64xf32>) outs(%f : tensor<1x64x12x64xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x64x12x64xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(b, s, h, d) -> (b, s, h, d)>, affine_map<(b, s, h, d) -> (b, h, s)>, affine_map<(b, s, h, d) -> (b, s, h, d)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%o, %l : tensor<1x64x12x64xf32>, tensor<1x12x64xf32>) outs(%e : tensor<1x64x12x64xf32>) {
  ^bb0(%x: f32, %d: f32, %out: f32):
    %r = arith.divf %x, %d : f32
    linalg.yield %r : f32
  } -> tensor<1x64x12x64xf32>
  return %y : tensor<1x64x12x64xf32>
}

func.func @pv_decode(%p: tensor<1x2x1x36xf32>, %v: tensor<1x36x2x32xf32>, %l: tensor<1x2x1xf32>) -> tensor<1x1x2x32xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x1x2x32xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x1x2x32xf32>) -> tensor<1x1x2x32xf32>
  %o = linalg.generic {indexing_maps = [affine_map<(b, h, s, t, d) -> (b, h, s, t)>, affine_map<(b, h, s, t, d) -> (b, t, h, d)>, affine_map<(b, h, s, t, d) -> (b, s, h, d)>], iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]} ins(%p, %v : tensor<1x2x1x36xf32>, tensor<1x36x2x32xf32>) outs(%f : tensor<1x1x2x32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x1x2x32xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(b, s, h, d) -> (b, s, h, d)>, affine_map<(b, s, h, d) -> (b, h, s)>, affine_map<(b, s, h, d) -> (b, s, h, d)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%o, %l : tensor<1x1x2x32xf32>, tensor<1x2x1xf32>) outs(%e : tensor<1x1x2x32xf32>) {
  ^bb0(%x: f32, %d: f32, %out: f32):
    %r = arith.divf %x, %d : f32
    linalg.yield %r : f32
  } -> tensor<1x1x2x32xf32>
  return %y : tensor<1x1x2x32xf32>
}

func.func @pv_peel(%p: tensor<1x2x40x40xf32>, %v: tensor<1x40x2x37xf32>, %l: tensor<1x2x40xf32>) -> tensor<1x40x2x37xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x40x2x37xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x40x2x37xf32>) -> tensor<1x40x2x37xf32>
  %o = linalg.generic {indexing_maps = [affine_map<(b, h, s, t, d) -> (b, h, s, t)>, affine_map<(b, h, s, t, d) -> (b, t, h, d)>, affine_map<(b, h, s, t, d) -> (b, s, h, d)>], iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]} ins(%p, %v : tensor<1x2x40x40xf32>, tensor<1x40x2x37xf32>) outs(%f : tensor<1x40x2x37xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x40x2x37xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(b, s, h, d) -> (b, s, h, d)>, affine_map<(b, s, h, d) -> (b, h, s)>, affine_map<(b, s, h, d) -> (b, s, h, d)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%o, %l : tensor<1x40x2x37xf32>, tensor<1x2x40xf32>) outs(%e : tensor<1x40x2x37xf32>) {
  ^bb0(%x: f32, %d: f32, %out: f32):
    %r = arith.divf %x, %d : f32
    linalg.yield %r : f32
  } -> tensor<1x40x2x37xf32>
  return %y : tensor<1x40x2x37xf32>
}

func.func @bmm_ragged(%a: tensor<3x20x30xf32>, %b: tensor<3x30x50xf32>) -> tensor<3x20x50xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x20x50xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<3x20x50xf32>) -> tensor<3x20x50xf32>
  %y = linalg.batch_matmul ins(%a, %b : tensor<3x20x30xf32>, tensor<3x30x50xf32>) outs(%f : tensor<3x20x50xf32>) -> tensor<3x20x50xf32>
  return %y : tensor<3x20x50xf32>
}
