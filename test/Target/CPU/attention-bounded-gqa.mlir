// Grouped-query attention bounded by the run-time position (TinyLlama's 32 query heads of 64
// sharing 4 KV heads, a KV cache of capacity 256): the scores, softmax statistics and PV
// dispatches the kiln lowering forms for decode (one query) and a prefill chunk of 64, as cut
// from examples/llama.kiln (`--set num_hidden_layers=1 --set max_position_embeddings=256`) by
// `kiln-opt --kiln-specialize-shapes --kiln-to-linalg --kiln-dispatch-fusion
// --kiln-form-dispatches --kiln-extract-dispatches` (renamed). The 32 heads are (KV head r,
// member g) pairs, [B, S, 4, 8, 64], so every map is a projected permutation and the grouped
// form is scheduled like attention-bounded.mlir: the 8 query heads of a KV head are the rows
// of one contraction against its keys (decode: one workgroup per KV head), and every loop over
// the keys stops at min(256, roundUp(L, tile)) with L = position + queries.
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v3 --emit=bufferized -o - | FileCheck %s
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v3 --print-dispatches -o %t.v3.so 2>&1 | FileCheck %s --check-prefix=WG
//
// Decode's scores: 8 query rows of one KV head against its keys, packed [D, T] per workgroup
// up to the bound, then 4 x 16 outer-product blocks.
// CHECK-LABEL: func.func @decode_scores(
// CHECK: scf.forall (%[[R:.*]]) in (4) {
// CHECK: %[[B:.*]] = arith.minui %{{.*}}, %c256
// CHECK: scf.for %{{.*}} = %c0 to %[[B]] step %c8
// CHECK: vector.transfer_read %{{.*}}[%c0, %{{.*}}, %[[R]], %{{.*}}], %{{.*}} : memref<1x256x4x64xf32, {{.*}}>, vector<8x1x8xf32>
// CHECK: scf.for %{{.*}} = %c0 to %[[B]] step %c16
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c1 iter_args(%{{.*}}) -> (vector<4x1x16xf32>)
// CHECK: vector.outerproduct {{.*}} : vector<4xf32>, vector<16xf32>
// CHECK-NOT: to %c256 step
// One workgroup per KV head, key tiles stopped at the bound.
// CHECK-LABEL: func.func @decode_softmax(
// CHECK: scf.forall (%{{.*}}) in (4) {
// CHECK: %[[SB:.*]] = arith.minui %{{.*}}, %c256
// CHECK: scf.for %{{.*}} = %c0 to %[[SB]] step %c8 iter_args
// CHECK: vector.multi_reduction <maximumf>
// CHECK: math.exp
// CHECK: vector.multi_reduction <add>
// Decode's PV: 4 query heads x 16 of D per block, the key loop stopped at the bound.
// CHECK-LABEL: func.func @decode_pv(
// CHECK: scf.forall (%{{.*}}) in (4) {
// CHECK: %[[PB:.*]] = arith.minui %{{.*}}, %c256
// CHECK: scf.for %{{.*}} = %c0 to %[[PB]] step %c1 iter_args(%{{.*}}) -> (vector<4x16xf32>)
// CHECK: vector.outerproduct {{.*}} : vector<4xf32>, vector<16xf32>
// CHECK-LABEL: func.func @prefill_scores(
// CHECK: scf.forall
// CHECK: %[[QB:.*]] = arith.minui %{{.*}}, %c256
// CHECK: scf.for %{{.*}} = %c0 to %[[QB]] step %c16
// CHECK: vector.outerproduct
// CHECK-LABEL: func.func @prefill_softmax(
// CHECK: scf.forall (%{{.*}}) in (4) {
// CHECK: arith.minui
// CHECK-LABEL: func.func @prefill_pv(
// CHECK: scf.forall
// CHECK: %[[VB:.*]] = arith.minui %{{.*}}, %c256
// CHECK: scf.for %{{.*}} = %c0 to %[[VB]] step %c1 iter_args
// CHECK: vector.outerproduct
//
// WG: dispatch decode_scores: buffers 4, workgroups 4x1x1
// WG: dispatch decode_softmax: buffers 4, workgroups 4x1x1
// WG: dispatch decode_pv: buffers 5, workgroups 4x1x1
// WG: dispatch prefill_scores: buffers 4, workgroups 2x8x4
// WG: dispatch prefill_softmax: buffers 4, workgroups 4x1x1
// WG: dispatch prefill_pv: buffers 5, workgroups 8x4x2
//
// Numerics against numpy (query head h reads KV head h // 8) at the first, a middle and the
// last positions (decode also at 8 and 248: L = 8k + 1, so a key bound one short leaves a
// score unwritten), with the unwritten cache slots and every result buffer holding NaN
// beforehand (Inputs/bounded_attention.py). A head read from the wrong KV head fails.
// RUN: %kiln_cpu_compile %s -o %t.so
// RUN: %python %S/Inputs/bounded_attention.py --runner %kiln_hal_run --blob %t.so --prefix decode --heads 32 --kv-heads 4 --head-dim 64 --queries 1 --capacity 256 --positions 0,8,131,248,255 | FileCheck %s --check-prefix=NUM
// RUN: %python %S/Inputs/bounded_attention.py --runner %kiln_hal_run --blob %t.v3.so --prefix decode --heads 32 --kv-heads 4 --head-dim 64 --queries 1 --capacity 256 --positions 0,8,131,248,255 | FileCheck %s --check-prefix=NUM
// RUN: %python %S/Inputs/bounded_attention.py --runner %kiln_hal_run --blob %t.so --prefix prefill --heads 32 --kv-heads 4 --head-dim 64 --queries 64 --capacity 256 --positions 0,77,192 | FileCheck %s --check-prefix=NUM
// NUM: position 0: max abs error
// NUM: max abs error {{.*}} (tolerance

#map = affine_map<(d0, d1, d2) -> (d0, d1)>
#map1 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#map2 = affine_map<(d0, d1, d2) -> (d2)>
#map3 = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d3, d1, d2, d5)>
#map4 = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d4, d1, d5)>
#map5 = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d4)>
#map6 = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>
#map7 = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
#map8 = affine_map<(d0, d1, d2, d3, d4) -> (d0, d2, d3, d1)>
#map9 = affine_map<(d0, d1) -> (d0, d1)>
#map10 = affine_map<(d0, d1) -> (d0)>
#map11 = affine_map<(d0, d1) -> (d1)>
module @llama {
  func.func @decode_scores(%arg0: tensor<1x1x4x8x64xf32>, %arg1: tensor<1x1x256x256xf32>, %arg2: tensor<1xi32>) -> tensor<1x4x8x1x256xf32> {
    %extracted_slice = tensor.extract_slice %arg1[0, 0, 0, 0] [1, 1, 256, 256] [1, 1, 1, 1] : tensor<1x1x256x256xf32> to tensor<1x256x256xf32>
    %expanded = tensor.expand_shape %extracted_slice [[0], [1], [2, 3]] output_shape [1, 256, 4, 64] : tensor<1x256x256xf32> into tensor<1x256x4x64xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<1x4x8x1x256xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x4x8x1x256xf32>) -> tensor<1x4x8x1x256xf32>
    %2 = linalg.generic {indexing_maps = [#map3, #map4, #map5], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%arg0, %expanded : tensor<1x1x4x8x64xf32>, tensor<1x256x4x64xf32>) outs(%1 : tensor<1x4x8x1x256xf32>) {
    ^bb0(%in: f32, %in_2: f32, %out: f32):
      %6 = arith.mulf %in, %in_2 : f32
      %7 = arith.addf %out, %6 : f32
      linalg.yield %7 : f32
    } -> tensor<1x4x8x1x256xf32>
    %cst_0 = arith.constant 1.250000e-01 : f32
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg2[%c0] : tensor<1xi32>
    %3 = arith.index_cast %extracted : i32 to index
    %cst_1 = arith.constant -3.40282347E+38 : f32
    %c1 = arith.constant 1 : index
    %4 = arith.addi %3, %c1 : index
    %5 = linalg.generic {indexing_maps = [#map6, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%2 : tensor<1x4x8x1x256xf32>) outs(%0 : tensor<1x4x8x1x256xf32>) {
    ^bb0(%in: f32, %out: f32):
      %6 = arith.mulf %in, %cst_0 : f32
      %7 = linalg.index 3 : index
      %8 = linalg.index 4 : index
      %9 = arith.addi %7, %3 : index
      %10 = arith.cmpi sgt, %8, %9 : index
      %11 = arith.select %10, %cst_1, %6 : f32
      %12 = arith.cmpi ult, %8, %4 : index
      %13 = arith.select %12, %11, %cst_1 : f32
      linalg.yield %13 : f32
    } -> tensor<1x4x8x1x256xf32>
    return %5 : tensor<1x4x8x1x256xf32>
  }
  func.func @decode_softmax(%arg0: tensor<1x4x8x1x256xf32>, %arg1: tensor<1xi32>) -> (tensor<1x4x8x1x256xf32>, tensor<1x4x8x1xf32>) {
    %cst = arith.constant -3.40282347E+38 : f32
    %0 = tensor.empty() : tensor<1x4x8x1xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x4x8x1xf32>) -> tensor<1x4x8x1xf32>
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg1[%c0] : tensor<1xi32>
    %2 = arith.index_cast %extracted : i32 to index
    %c1 = arith.constant 1 : index
    %3 = arith.addi %2, %c1 : index
    %4 = linalg.generic {indexing_maps = [#map6, #map7], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%arg0 : tensor<1x4x8x1x256xf32>) outs(%1 : tensor<1x4x8x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %9 = linalg.index 4 : index
      %10 = arith.cmpi ult, %9, %3 : index
      %11 = arith.select %10, %in, %cst : f32
      %12 = arith.maximumf %11, %out : f32
      linalg.yield %12 : f32
    } -> tensor<1x4x8x1xf32>
    %5 = tensor.empty() : tensor<1x4x8x1x256xf32>
    %cst_0 = arith.constant 0.000000e+00 : f32
    %6 = linalg.generic {indexing_maps = [#map6, #map7, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%arg0, %4 : tensor<1x4x8x1x256xf32>, tensor<1x4x8x1xf32>) outs(%5 : tensor<1x4x8x1x256xf32>) {
    ^bb0(%in: f32, %in_1: f32, %out: f32):
      %9 = arith.subf %in, %in_1 : f32
      %10 = math.exp %9 : f32
      %11 = linalg.index 4 : index
      %12 = arith.cmpi ult, %11, %3 : index
      %13 = arith.select %12, %10, %cst_0 : f32
      linalg.yield %13 : f32
    } -> tensor<1x4x8x1x256xf32>
    %7 = linalg.fill ins(%cst_0 : f32) outs(%0 : tensor<1x4x8x1xf32>) -> tensor<1x4x8x1xf32>
    %8 = linalg.generic {indexing_maps = [#map6, #map7], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%6 : tensor<1x4x8x1x256xf32>) outs(%7 : tensor<1x4x8x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %9 = linalg.index 4 : index
      %10 = arith.cmpi ult, %9, %3 : index
      %11 = arith.select %10, %in, %cst_0 : f32
      %12 = arith.addf %11, %out : f32
      linalg.yield %12 : f32
    } -> tensor<1x4x8x1xf32>
    return %6, %8 : tensor<1x4x8x1x256xf32>, tensor<1x4x8x1xf32>
  }
  func.func @decode_pv(%arg0: tensor<1x4x8x1x256xf32>, %arg1: tensor<1x1x256x256xf32>, %arg2: tensor<1xi32>, %arg3: tensor<1x4x8x1xf32>) -> tensor<1x1x4x8x64xf32> {
    %extracted_slice = tensor.extract_slice %arg1[0, 0, 0, 0] [1, 1, 256, 256] [1, 1, 1, 1] : tensor<1x1x256x256xf32> to tensor<1x256x256xf32>
    %expanded = tensor.expand_shape %extracted_slice [[0], [1], [2, 3]] output_shape [1, 256, 4, 64] : tensor<1x256x256xf32> into tensor<1x256x4x64xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<1x1x4x8x64xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x1x4x8x64xf32>) -> tensor<1x1x4x8x64xf32>
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg2[%c0] : tensor<1xi32>
    %2 = arith.index_cast %extracted : i32 to index
    %c1 = arith.constant 1 : index
    %3 = arith.addi %2, %c1 : index
    %4 = linalg.generic {indexing_maps = [#map5, #map4, #map3], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "parallel"]} ins(%arg0, %expanded : tensor<1x4x8x1x256xf32>, tensor<1x256x4x64xf32>) outs(%1 : tensor<1x1x4x8x64xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %6 = arith.mulf %in, %in_0 : f32
      %7 = linalg.index 4 : index
      %8 = arith.cmpi ult, %7, %3 : index
      %9 = arith.select %8, %6, %cst : f32
      %10 = arith.addf %out, %9 : f32
      linalg.yield %10 : f32
    } -> tensor<1x1x4x8x64xf32>
    %5 = linalg.generic {indexing_maps = [#map6, #map8, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%4, %arg3 : tensor<1x1x4x8x64xf32>, tensor<1x4x8x1xf32>) outs(%0 : tensor<1x1x4x8x64xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %6 = arith.divf %in, %in_0 : f32
      linalg.yield %6 : f32
    } -> tensor<1x1x4x8x64xf32>
    return %5 : tensor<1x1x4x8x64xf32>
  }
  func.func @prefill_scores(%arg0: tensor<1x64x4x8x64xf32>, %arg1: tensor<1x1x256x256xf32>, %arg2: tensor<1xi32>) -> tensor<1x4x8x64x256xf32> {
    %extracted_slice = tensor.extract_slice %arg1[0, 0, 0, 0] [1, 1, 256, 256] [1, 1, 1, 1] : tensor<1x1x256x256xf32> to tensor<1x256x256xf32>
    %expanded = tensor.expand_shape %extracted_slice [[0], [1], [2, 3]] output_shape [1, 256, 4, 64] : tensor<1x256x256xf32> into tensor<1x256x4x64xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<1x4x8x64x256xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x4x8x64x256xf32>) -> tensor<1x4x8x64x256xf32>
    %2 = linalg.generic {indexing_maps = [#map3, #map4, #map5], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%arg0, %expanded : tensor<1x64x4x8x64xf32>, tensor<1x256x4x64xf32>) outs(%1 : tensor<1x4x8x64x256xf32>) {
    ^bb0(%in: f32, %in_2: f32, %out: f32):
      %6 = arith.mulf %in, %in_2 : f32
      %7 = arith.addf %out, %6 : f32
      linalg.yield %7 : f32
    } -> tensor<1x4x8x64x256xf32>
    %cst_0 = arith.constant 1.250000e-01 : f32
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg2[%c0] : tensor<1xi32>
    %3 = arith.index_cast %extracted : i32 to index
    %cst_1 = arith.constant -3.40282347E+38 : f32
    %c64 = arith.constant 64 : index
    %4 = arith.addi %3, %c64 : index
    %5 = linalg.generic {indexing_maps = [#map6, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%2 : tensor<1x4x8x64x256xf32>) outs(%0 : tensor<1x4x8x64x256xf32>) {
    ^bb0(%in: f32, %out: f32):
      %6 = arith.mulf %in, %cst_0 : f32
      %7 = linalg.index 3 : index
      %8 = linalg.index 4 : index
      %9 = arith.addi %7, %3 : index
      %10 = arith.cmpi sgt, %8, %9 : index
      %11 = arith.select %10, %cst_1, %6 : f32
      %12 = arith.cmpi ult, %8, %4 : index
      %13 = arith.select %12, %11, %cst_1 : f32
      linalg.yield %13 : f32
    } -> tensor<1x4x8x64x256xf32>
    return %5 : tensor<1x4x8x64x256xf32>
  }
  func.func @prefill_softmax(%arg0: tensor<1x4x8x64x256xf32>, %arg1: tensor<1xi32>) -> (tensor<1x4x8x64x256xf32>, tensor<1x4x8x64xf32>) {
    %cst = arith.constant -3.40282347E+38 : f32
    %0 = tensor.empty() : tensor<1x4x8x64xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x4x8x64xf32>) -> tensor<1x4x8x64xf32>
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg1[%c0] : tensor<1xi32>
    %2 = arith.index_cast %extracted : i32 to index
    %c64 = arith.constant 64 : index
    %3 = arith.addi %2, %c64 : index
    %4 = linalg.generic {indexing_maps = [#map6, #map7], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%arg0 : tensor<1x4x8x64x256xf32>) outs(%1 : tensor<1x4x8x64xf32>) {
    ^bb0(%in: f32, %out: f32):
      %9 = linalg.index 4 : index
      %10 = arith.cmpi ult, %9, %3 : index
      %11 = arith.select %10, %in, %cst : f32
      %12 = arith.maximumf %11, %out : f32
      linalg.yield %12 : f32
    } -> tensor<1x4x8x64xf32>
    %5 = tensor.empty() : tensor<1x4x8x64x256xf32>
    %cst_0 = arith.constant 0.000000e+00 : f32
    %6 = linalg.generic {indexing_maps = [#map6, #map7, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%arg0, %4 : tensor<1x4x8x64x256xf32>, tensor<1x4x8x64xf32>) outs(%5 : tensor<1x4x8x64x256xf32>) {
    ^bb0(%in: f32, %in_1: f32, %out: f32):
      %9 = arith.subf %in, %in_1 : f32
      %10 = math.exp %9 : f32
      %11 = linalg.index 4 : index
      %12 = arith.cmpi ult, %11, %3 : index
      %13 = arith.select %12, %10, %cst_0 : f32
      linalg.yield %13 : f32
    } -> tensor<1x4x8x64x256xf32>
    %7 = linalg.fill ins(%cst_0 : f32) outs(%0 : tensor<1x4x8x64xf32>) -> tensor<1x4x8x64xf32>
    %8 = linalg.generic {indexing_maps = [#map6, #map7], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%6 : tensor<1x4x8x64x256xf32>) outs(%7 : tensor<1x4x8x64xf32>) {
    ^bb0(%in: f32, %out: f32):
      %9 = linalg.index 4 : index
      %10 = arith.cmpi ult, %9, %3 : index
      %11 = arith.select %10, %in, %cst_0 : f32
      %12 = arith.addf %11, %out : f32
      linalg.yield %12 : f32
    } -> tensor<1x4x8x64xf32>
    return %6, %8 : tensor<1x4x8x64x256xf32>, tensor<1x4x8x64xf32>
  }
  func.func @prefill_pv(%arg0: tensor<1x4x8x64x256xf32>, %arg1: tensor<1x1x256x256xf32>, %arg2: tensor<1xi32>, %arg3: tensor<1x4x8x64xf32>) -> tensor<1x64x4x8x64xf32> {
    %extracted_slice = tensor.extract_slice %arg1[0, 0, 0, 0] [1, 1, 256, 256] [1, 1, 1, 1] : tensor<1x1x256x256xf32> to tensor<1x256x256xf32>
    %expanded = tensor.expand_shape %extracted_slice [[0], [1], [2, 3]] output_shape [1, 256, 4, 64] : tensor<1x256x256xf32> into tensor<1x256x4x64xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<1x64x4x8x64xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<1x64x4x8x64xf32>) -> tensor<1x64x4x8x64xf32>
    %c0 = arith.constant 0 : index
    %extracted = tensor.extract %arg2[%c0] : tensor<1xi32>
    %2 = arith.index_cast %extracted : i32 to index
    %c64 = arith.constant 64 : index
    %3 = arith.addi %2, %c64 : index
    %4 = linalg.generic {indexing_maps = [#map5, #map4, #map3], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "parallel"]} ins(%arg0, %expanded : tensor<1x4x8x64x256xf32>, tensor<1x256x4x64xf32>) outs(%1 : tensor<1x64x4x8x64xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %6 = arith.mulf %in, %in_0 : f32
      %7 = linalg.index 4 : index
      %8 = arith.cmpi ult, %7, %3 : index
      %9 = arith.select %8, %6, %cst : f32
      %10 = arith.addf %out, %9 : f32
      linalg.yield %10 : f32
    } -> tensor<1x64x4x8x64xf32>
    %5 = linalg.generic {indexing_maps = [#map6, #map8, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%4, %arg3 : tensor<1x64x4x8x64xf32>, tensor<1x4x8x64xf32>) outs(%0 : tensor<1x64x4x8x64xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %6 = arith.divf %in, %in_0 : f32
      linalg.yield %6 : f32
    } -> tensor<1x64x4x8x64xf32>
    return %5 : tensor<1x64x4x8x64xf32>
  }
}
