// Attention bounded by the run-time position (a KV cache of capacity 1024, GPT-2's 12 heads of
// 64): the scores (QK^T + scale + mask), softmax statistics and PV dispatches the kiln lowering
// forms for decode (one query) and a prefill chunk of 64, as cut from GPT-2 by
// `kiln-opt --kiln-specialize-shapes --kiln-to-linalg --kiln-dispatch-fusion
// --kiln-form-dispatches` (renamed). Every loop over the key dimension stops at
// min(1024, roundUp(L, tile)) with L = position + queries, read inside each workgroup;
// decode's contractions get one workgroup per head (AVX2 here).
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v3 --emit=bufferized -o - | FileCheck %s
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v3 --print-dispatches -o %t.v3.so 2>&1 | FileCheck %s --check-prefix=WG
//
// CHECK-LABEL: func.func @decode_scores(
// CHECK-SAME: %[[POS:[a-z0-9]+]]: memref<1xi32>
// CHECK: scf.forall (%{{.*}}) in (12) {
// CHECK: %[[P:.*]] = memref.load %[[POS]]
// CHECK: %[[PI:.*]] = arith.index_cast %[[P]]
// roundUp(p + 1, 8) = ((p + 8) / 8) * 8
// CHECK: %[[UP:.*]] = arith.addi %[[PI]], %c8
// CHECK: %[[Q:.*]] = arith.divui %[[UP]], %c8
// CHECK: %[[R:.*]] = arith.muli %[[Q]], %c8
// CHECK: %[[B:.*]] = arith.minui %[[R]], %c1024
// One query: dot products over blocks of 8 keys read where they lie (no pack), one vector
// accumulator per key carried along D, then one transposing reduction per block (pairwise
// sums of even and odd lanes, no horizontal reduction per key).
// CHECK: scf.for %[[J:.*]] = %c0 to %[[B]] step %c8 {
// CHECK-NEXT: scf.for %{{.*}} = %c0 to %c64 step %c8 iter_args(%{{.*}}) -> (vector<8x8xf32>) {
// CHECK: vector.transfer_read %{{.*}}[%c0, %[[J]], %{{.*}}, %{{.*}}], %{{.*}} : memref<1x1024x12x64xf32, {{.*}}>, vector<8x1x8xf32>
// CHECK: arith.mulf {{.*}} fastmath<contract> : vector<8x8xf32>
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 2, 8, 10, 4, 6, 12, 14] : vector<8xf32>, vector<8xf32>
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 1, 2, 3, 8, 9, 10, 11] : vector<8xf32>, vector<8xf32>
// CHECK: arith.select
// CHECK: vector.transfer_write %{{.*}}, %{{.*}}[%c0, %c0, %c0, %[[J]]] {{.*}} : vector<8xf32>
// CHECK-NOT: to %c1024 step
// CHECK-NOT: vector.reduction
// CHECK-NOT: vector.multi_reduction
// CHECK-LABEL: func.func @decode_softmax(
// One workgroup per head: the exps and the row sums both come out of the forall.
// CHECK: scf.forall (%{{.*}}) in (12) {
// CHECK: memref.load
// CHECK: %[[SB:.*]] = arith.minui %{{.*}}, %c1024
// CHECK: scf.for %{{.*}} = %c0 to %[[SB]] step %c8 iter_args
// CHECK: vector.multi_reduction <maximumf>
// CHECK: scf.for %{{.*}} = %c0 to %[[SB]] step %c8
// CHECK: math.exp
// CHECK: scf.for %{{.*}} = %c0 to %[[SB]] step %c8 iter_args
// CHECK: vector.multi_reduction <add>
// CHECK-LABEL: func.func @decode_pv(
// CHECK: scf.forall (%{{.*}}) in (12) {
// CHECK: memref.load
// CHECK: %[[PB:.*]] = arith.minui %{{.*}}, %c1024
// One query: the head's whole row of 64 (8 vectors) accumulates across the keys.
// CHECK: scf.for %{{.*}} = %c0 to %[[PB]] step %c1 iter_args(%{{.*}}) -> (vector<64xf32>)
// CHECK: vector.outerproduct {{.*}} : vector<64xf32>, f32
// CHECK-LABEL: func.func @prefill_scores(
// CHECK: scf.forall
// CHECK: memref.load
// CHECK: %[[QB:.*]] = arith.minui %{{.*}}, %c1024
// CHECK: scf.for %{{.*}} = %c0 to %[[QB]] step %c16
// CHECK-LABEL: func.func @prefill_softmax(
// CHECK: scf.forall (%{{.*}}) in (12) {
// CHECK: arith.minui
// CHECK-LABEL: func.func @prefill_pv(
// CHECK: scf.forall
// CHECK: memref.load
// CHECK: %[[VB:.*]] = arith.minui %{{.*}}, %c1024
// CHECK: scf.for %{{.*}} = %c0 to %[[VB]] step %c1 iter_args
//
// WG: dispatch decode_scores: buffers 4, workgroups 12x1x1
// WG: dispatch decode_softmax: buffers 4, workgroups 12x1x1
// WG: dispatch decode_pv: buffers 5, workgroups 12x1x1
// WG: dispatch prefill_scores: buffers 4, workgroups 2x12x1
// WG: dispatch prefill_softmax: buffers 4, workgroups 12x1x1
// WG: dispatch prefill_pv: buffers 5, workgroups 12x2x1
//
// Numerics against numpy at the first, a middle and the last position (decode also at 8 and
// 1016: L = 8k + 1, so a key bound one short leaves a score of the last 8-key block unwritten),
// with the unwritten cache slots and every result buffer holding NaN beforehand
// (Inputs/bounded_attention.py).
// RUN: %kiln_cpu_compile %s -o %t.so
// RUN: %python %S/Inputs/bounded_attention.py --runner %kiln_hal_run --blob %t.so --prefix decode --heads 12 --head-dim 64 --queries 1 --capacity 1024 --positions 0,8,517,1016,1023 | FileCheck %s --check-prefix=NUM
// The AVX2 code (%t.v3.so, above) too: on an AVX-512 host %t.so differs (decode's dot products
// are 8 keys x 16 lanes there, 8 x 8 with AVX2).
// RUN: %python %S/Inputs/bounded_attention.py --runner %kiln_hal_run --blob %t.v3.so --prefix decode --heads 12 --head-dim 64 --queries 1 --capacity 1024 --positions 0,8,517,1016,1023 | FileCheck %s --check-prefix=NUM
// RUN: %python %S/Inputs/bounded_attention.py --runner %kiln_hal_run --blob %t.so --prefix prefill --heads 12 --head-dim 64 --queries 64 --capacity 1024 --positions 0,333,960 | FileCheck %s --check-prefix=NUM
// NUM: position 0: max abs error
// NUM: max abs error {{.*}} (tolerance

  func.func @decode_scores(%arg0: tensor<1x1x12x64xf32>, %arg1: tensor<1x1x1024x768xf32>, %arg2: tensor<1xi32>) -> tensor<1x12x1x1024xf32> {
    %extracted_slice = tensor.extract_slice %arg1[0, 0, 0, 0] [1, 1, 1024, 768] [1, 1, 1, 1] : tensor<1x1x1024x768xf32> to tensor<1x1024x768xf32>
    %expanded = tensor.expand_shape %extracted_slice [[0], [1], [2, 3]] output_shape [1, 1024, 12, 64] : tensor<1x1024x768xf32> into tensor<1x1024x12x64xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<1x12x1x1024xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x12x1x1024xf32>) -> tensor<1x12x1x1024xf32>
    %2 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d2, d1, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d1, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%arg0, %expanded : tensor<1x1x12x64xf32>, tensor<1x1024x12x64xf32>) outs(%1 : tensor<1x12x1x1024xf32>) {
    ^bb0(%in: f32, %in_2: f32, %out: f32):
      %6 = arith.mulf %in, %in_2 : f32
      %7 = arith.addf %out, %6 : f32
      linalg.yield %7 : f32
    } -> tensor<1x12x1x1024xf32>
    %cst_0 = arith.constant 1.250000e-01 : f32
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg2[%c0] : tensor<1xi32>
    %3 = arith.index_cast %extracted : i32 to index
    %cst_1 = arith.constant -3.40282347E+38 : f32
    %c1 = arith.constant 1 : index
    %4 = arith.addi %3, %c1 : index
    %5 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%2 : tensor<1x12x1x1024xf32>) outs(%0 : tensor<1x12x1x1024xf32>) {
    ^bb0(%in: f32, %out: f32):
      %6 = arith.mulf %in, %cst_0 : f32
      %7 = linalg.index 2 : index
      %8 = linalg.index 3 : index
      %9 = arith.addi %7, %3 : index
      %10 = arith.cmpi sgt, %8, %9 : index
      %11 = arith.select %10, %cst_1, %6 : f32
      %12 = arith.cmpi ult, %8, %4 : index
      %13 = arith.select %12, %11, %cst_1 : f32
      linalg.yield %13 : f32
    } -> tensor<1x12x1x1024xf32>
    return %5 : tensor<1x12x1x1024xf32>
  }

  func.func @decode_softmax(%arg0: tensor<1x12x1x1024xf32>, %arg1: tensor<1xi32>) -> (tensor<1x12x1x1024xf32>, tensor<1x12x1xf32>) {
    %cst = arith.constant -3.40282347E+38 : f32
    %0 = tensor.empty() : tensor<1x12x1xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x12x1xf32>) -> tensor<1x12x1xf32>
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg1[%c0] : tensor<1xi32>
    %2 = arith.index_cast %extracted : i32 to index
    %c1 = arith.constant 1 : index
    %3 = arith.addi %2, %c1 : index
    %4 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%arg0 : tensor<1x12x1x1024xf32>) outs(%1 : tensor<1x12x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %9 = linalg.index 3 : index
      %10 = arith.cmpi ult, %9, %3 : index
      %11 = arith.select %10, %in, %cst : f32
      %12 = arith.maximumf %11, %out : f32
      linalg.yield %12 : f32
    } -> tensor<1x12x1xf32>
    %5 = tensor.empty() : tensor<1x12x1x1024xf32>
    %cst_0 = arith.constant 0.000000e+00 : f32
    %6 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%arg0, %4 : tensor<1x12x1x1024xf32>, tensor<1x12x1xf32>) outs(%5 : tensor<1x12x1x1024xf32>) {
    ^bb0(%in: f32, %in_1: f32, %out: f32):
      %9 = arith.subf %in, %in_1 : f32
      %10 = math.exp %9 : f32
      %11 = linalg.index 3 : index
      %12 = arith.cmpi ult, %11, %3 : index
      %13 = arith.select %12, %10, %cst_0 : f32
      linalg.yield %13 : f32
    } -> tensor<1x12x1x1024xf32>
    %7 = linalg.fill ins(%cst_0 : f32) outs(%0 : tensor<1x12x1xf32>) -> tensor<1x12x1xf32>
    %8 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%6 : tensor<1x12x1x1024xf32>) outs(%7 : tensor<1x12x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %9 = linalg.index 3 : index
      %10 = arith.cmpi ult, %9, %3 : index
      %11 = arith.select %10, %in, %cst_0 : f32
      %12 = arith.addf %11, %out : f32
      linalg.yield %12 : f32
    } -> tensor<1x12x1xf32>
    return %6, %8 : tensor<1x12x1x1024xf32>, tensor<1x12x1xf32>
  }

  func.func @decode_pv(%arg0: tensor<1x12x1x1024xf32>, %arg1: tensor<1x1x1024x768xf32>, %arg2: tensor<1xi32>, %arg3: tensor<1x12x1xf32>) -> tensor<1x1x12x64xf32> {
    %extracted_slice = tensor.extract_slice %arg1[0, 0, 0, 0] [1, 1, 1024, 768] [1, 1, 1, 1] : tensor<1x1x1024x768xf32> to tensor<1x1024x768xf32>
    %expanded = tensor.expand_shape %extracted_slice [[0], [1], [2, 3]] output_shape [1, 1024, 12, 64] : tensor<1x1024x768xf32> into tensor<1x1024x12x64xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<1x1x12x64xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x1x12x64xf32>) -> tensor<1x1x12x64xf32>
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg2[%c0] : tensor<1xi32>
    %2 = arith.index_cast %extracted : i32 to index
    %c1 = arith.constant 1 : index
    %3 = arith.addi %2, %c1 : index
    %4 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d1, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d2, d1, d4)>], iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]} ins(%arg0, %expanded : tensor<1x12x1x1024xf32>, tensor<1x1024x12x64xf32>) outs(%1 : tensor<1x1x12x64xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %6 = arith.mulf %in, %in_0 : f32
      %7 = linalg.index 3 : index
      %8 = arith.cmpi ult, %7, %3 : index
      %9 = arith.select %8, %6, %cst : f32
      %10 = arith.addf %out, %9 : f32
      linalg.yield %10 : f32
    } -> tensor<1x1x12x64xf32>
    %5 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d2, d1)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%4, %arg3 : tensor<1x1x12x64xf32>, tensor<1x12x1xf32>) outs(%0 : tensor<1x1x12x64xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %6 = arith.divf %in, %in_0 : f32
      linalg.yield %6 : f32
    } -> tensor<1x1x12x64xf32>
    return %5 : tensor<1x1x12x64xf32>
  }

  func.func @prefill_scores(%arg0: tensor<1x64x12x64xf32>, %arg1: tensor<1x1x1024x768xf32>, %arg2: tensor<1xi32>) -> tensor<1x12x64x1024xf32> {
    %extracted_slice = tensor.extract_slice %arg1[0, 0, 0, 0] [1, 1, 1024, 768] [1, 1, 1, 1] : tensor<1x1x1024x768xf32> to tensor<1x1024x768xf32>
    %expanded = tensor.expand_shape %extracted_slice [[0], [1], [2, 3]] output_shape [1, 1024, 12, 64] : tensor<1x1024x768xf32> into tensor<1x1024x12x64xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<1x12x64x1024xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x12x64x1024xf32>) -> tensor<1x12x64x1024xf32>
    %2 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d2, d1, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d1, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%arg0, %expanded : tensor<1x64x12x64xf32>, tensor<1x1024x12x64xf32>) outs(%1 : tensor<1x12x64x1024xf32>) {
    ^bb0(%in: f32, %in_2: f32, %out: f32):
      %6 = arith.mulf %in, %in_2 : f32
      %7 = arith.addf %out, %6 : f32
      linalg.yield %7 : f32
    } -> tensor<1x12x64x1024xf32>
    %cst_0 = arith.constant 1.250000e-01 : f32
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg2[%c0] : tensor<1xi32>
    %3 = arith.index_cast %extracted : i32 to index
    %cst_1 = arith.constant -3.40282347E+38 : f32
    %c64 = arith.constant 64 : index
    %4 = arith.addi %3, %c64 : index
    %5 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%2 : tensor<1x12x64x1024xf32>) outs(%0 : tensor<1x12x64x1024xf32>) {
    ^bb0(%in: f32, %out: f32):
      %6 = arith.mulf %in, %cst_0 : f32
      %7 = linalg.index 2 : index
      %8 = linalg.index 3 : index
      %9 = arith.addi %7, %3 : index
      %10 = arith.cmpi sgt, %8, %9 : index
      %11 = arith.select %10, %cst_1, %6 : f32
      %12 = arith.cmpi ult, %8, %4 : index
      %13 = arith.select %12, %11, %cst_1 : f32
      linalg.yield %13 : f32
    } -> tensor<1x12x64x1024xf32>
    return %5 : tensor<1x12x64x1024xf32>
  }

  func.func @prefill_softmax(%arg0: tensor<1x12x64x1024xf32>, %arg1: tensor<1xi32>) -> (tensor<1x12x64x1024xf32>, tensor<1x12x64xf32>) {
    %cst = arith.constant -3.40282347E+38 : f32
    %0 = tensor.empty() : tensor<1x12x64xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x12x64xf32>) -> tensor<1x12x64xf32>
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg1[%c0] : tensor<1xi32>
    %2 = arith.index_cast %extracted : i32 to index
    %c64 = arith.constant 64 : index
    %3 = arith.addi %2, %c64 : index
    %4 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%arg0 : tensor<1x12x64x1024xf32>) outs(%1 : tensor<1x12x64xf32>) {
    ^bb0(%in: f32, %out: f32):
      %9 = linalg.index 3 : index
      %10 = arith.cmpi ult, %9, %3 : index
      %11 = arith.select %10, %in, %cst : f32
      %12 = arith.maximumf %11, %out : f32
      linalg.yield %12 : f32
    } -> tensor<1x12x64xf32>
    %5 = tensor.empty() : tensor<1x12x64x1024xf32>
    %cst_0 = arith.constant 0.000000e+00 : f32
    %6 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%arg0, %4 : tensor<1x12x64x1024xf32>, tensor<1x12x64xf32>) outs(%5 : tensor<1x12x64x1024xf32>) {
    ^bb0(%in: f32, %in_1: f32, %out: f32):
      %9 = arith.subf %in, %in_1 : f32
      %10 = math.exp %9 : f32
      %11 = linalg.index 3 : index
      %12 = arith.cmpi ult, %11, %3 : index
      %13 = arith.select %12, %10, %cst_0 : f32
      linalg.yield %13 : f32
    } -> tensor<1x12x64x1024xf32>
    %7 = linalg.fill ins(%cst_0 : f32) outs(%0 : tensor<1x12x64xf32>) -> tensor<1x12x64xf32>
    %8 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%6 : tensor<1x12x64x1024xf32>) outs(%7 : tensor<1x12x64xf32>) {
    ^bb0(%in: f32, %out: f32):
      %9 = linalg.index 3 : index
      %10 = arith.cmpi ult, %9, %3 : index
      %11 = arith.select %10, %in, %cst_0 : f32
      %12 = arith.addf %11, %out : f32
      linalg.yield %12 : f32
    } -> tensor<1x12x64xf32>
    return %6, %8 : tensor<1x12x64x1024xf32>, tensor<1x12x64xf32>
  }

  func.func @prefill_pv(%arg0: tensor<1x12x64x1024xf32>, %arg1: tensor<1x1x1024x768xf32>, %arg2: tensor<1xi32>, %arg3: tensor<1x12x64xf32>) -> tensor<1x64x12x64xf32> {
    %extracted_slice = tensor.extract_slice %arg1[0, 0, 0, 0] [1, 1, 1024, 768] [1, 1, 1, 1] : tensor<1x1x1024x768xf32> to tensor<1x1024x768xf32>
    %expanded = tensor.expand_shape %extracted_slice [[0], [1], [2, 3]] output_shape [1, 1024, 12, 64] : tensor<1x1024x768xf32> into tensor<1x1024x12x64xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<1x64x12x64xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x64x12x64xf32>) -> tensor<1x64x12x64xf32>
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg2[%c0] : tensor<1xi32>
    %2 = arith.index_cast %extracted : i32 to index
    %c64 = arith.constant 64 : index
    %3 = arith.addi %2, %c64 : index
    %4 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d1, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d2, d1, d4)>], iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]} ins(%arg0, %expanded : tensor<1x12x64x1024xf32>, tensor<1x1024x12x64xf32>) outs(%1 : tensor<1x64x12x64xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %6 = arith.mulf %in, %in_0 : f32
      %7 = linalg.index 3 : index
      %8 = arith.cmpi ult, %7, %3 : index
      %9 = arith.select %8, %6, %cst : f32
      %10 = arith.addf %out, %9 : f32
      linalg.yield %10 : f32
    } -> tensor<1x64x12x64xf32>
    %5 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d2, d1)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%4, %arg3 : tensor<1x64x12x64xf32>, tensor<1x12x64xf32>) outs(%0 : tensor<1x64x12x64xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %6 = arith.divf %in, %in_0 : f32
      linalg.yield %6 : f32
    } -> tensor<1x64x12x64xf32>
    return %5 : tensor<1x64x12x64xf32>
  }
