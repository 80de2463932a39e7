// A decoder step through dispatch formation: kiln-specialize-shapes turns the KV-cache append
// into its static-capacity form, the lowering reads the layer's cache as a slice, form-dispatches
// makes that layer of the cache the operand of the append and attention dispatches (a view, no
// copy) and clones the scalar position into every dispatch using it, and the schedule binds
// the layer's bytes of the one state buffer everywhere, updated in place by the append dispatch.
// RUN: kiln-opt %s --kiln-specialize-shapes="entry=decode dims=batch=1" | FileCheck %s --check-prefix=SPEC
// RUN: kiln-opt %s --kiln-specialize-shapes="entry=decode dims=batch=1" --kiln-to-linalg --kiln-dispatch-fusion --kiln-form-dispatches=entries=decode | FileCheck %s --check-prefix=FORM
// RUN: kiln-opt %s --kiln-specialize-shapes="entry=decode dims=batch=1" --kiln-to-linalg --kiln-dispatch-fusion --kiln-form-dispatches=entries=decode --kiln-print-dispatch-schedule -o /dev/null | FileCheck %s --check-prefix=SCHED

// SPEC-LABEL: func.func @decode
// SPEC-SAME: %[[POS:[^:]*]]: tensor<1xi32> {kiln.input = "position"}
// SPEC: %[[C:.*]], %[[KEYS:.*]] = kiln.kv_cache_append %{{.*}} into %{{.*}}[1] at %[[POS]] capacity : tensor<1x1x8xf32> into tensor<2x1x16x8xf32>, tensor<1xi32> -> tensor<1x16x8xf32>
// SPEC: kiln.attention %{{.*}}, %[[KEYS]], %[[KEYS]] position(%[[POS]] : tensor<1xi32>) {causal{{.*}}} : tensor<1x1x8xf32>, tensor<1x16x8xf32>
// SPEC: return %{{.*}}, %[[C]] : tensor<1x1x8xf32>, tensor<2x1x16x8xf32>
// SPEC-NOT: ?

// FORM-LABEL: func.func @decode
// FORM: %[[L:.*]] = tensor.extract_slice %arg2[1, 0, 0, 0] [1, 1, 16, 8] [1, 1, 1, 1] : tensor<2x1x16x8xf32> to tensor<1x16x8xf32>
// FORM: %[[A:.*]] = call @decode_dispatch_1(%{{.*}}, %[[L]], %arg1) : (tensor<1x1x8xf32>, tensor<1x16x8xf32>, tensor<1xi32>) -> tensor<1x16x8xf32>
// FORM: %[[C1:.*]] = tensor.insert_slice %[[A]] into %arg2[1, 0, 0, 0] [1, 1, 16, 8] [1, 1, 1, 1] : tensor<1x16x8xf32> into tensor<2x1x16x8xf32>
// FORM: %[[K:.*]] = tensor.extract_slice %[[C1]][1, 0, 0, 0] [1, 1, 16, 8] [1, 1, 1, 1] : tensor<2x1x16x8xf32> to tensor<1x16x8xf32>
// FORM: %[[KH:.*]] = tensor.expand_shape %[[K]] {{\[}}[0], [1], [2, 3]] output_shape [1, 16, 2, 4]
// FORM: call @decode_dispatch_2(%{{.*}}, %[[KH]], %arg1) : (tensor<1x1x2x4xf32>, tensor<1x16x2x4xf32>, tensor<1xi32>)
// FORM: call @decode_dispatch_4(%{{.*}}, %[[KH]], %arg1, %{{.*}}) : (tensor<1x2x1x16xf32>, tensor<1x16x2x4xf32>, tensor<1xi32>, tensor<1x2x1xf32>)
// FORM: return %{{.*}}, %[[C1]]
// The append: the rows go into the layer at the position read from the input, nothing else.
// FORM-LABEL: func.func private @decode_dispatch_1
// FORM-SAME: (%[[ROWS:.*]]: tensor<1x1x8xf32>, %[[LAYER:.*]]: tensor<1x16x8xf32>, %[[P:.*]]: tensor<1xi32>)
// FORM: %[[E:.*]] = tensor.extract %[[P]]
// FORM: %[[I:.*]] = arith.index_cast %[[E]]
// FORM: %[[U:.*]] = tensor.insert_slice %[[ROWS]] into %[[LAYER]][0, %[[I]], 0] [1, 1, 8] [1, 1, 1]
// FORM-NEXT: return %[[U]]
// Scores: layer 1's whole capacity; key j hidden iff j > position + i.
// FORM-LABEL: func.func private @decode_dispatch_2
// FORM-SAME: %[[KEYS:[^:]*]]: tensor<1x16x2x4xf32>, %[[P:[^:]*]]: tensor<1xi32>
// FORM-NOT: tensor.extract_slice
// FORM: %[[E:.*]] = tensor.extract %[[P]]
// FORM: %[[SHIFT:.*]] = arith.index_cast %[[E]]
// FORM: linalg.generic
// FORM: %[[I:.*]] = linalg.index 2
// FORM: %[[J:.*]] = linalg.index 3
// FORM: %[[LAST:.*]] = arith.addi %[[I]], %[[SHIFT]]
// FORM: arith.cmpi sgt, %[[J]], %[[LAST]]
// FORM-LABEL: func.func private @decode_dispatch_4
// FORM-SAME: tensor<1x16x2x4xf32>
// No dispatch copies the cache.
// FORM-NOT: linalg.copy

// Layer 1: bytes [512, 1024) of the cache.
// SCHED: {"buffers":[{"kind":"input","name":"x"},{"bytes":512,"kind":"state_range","name":"cache","offset":512},{"kind":"input","name":"position"},{"bytes":512,"kind":"state_range","name":"cache","offset":512}],"dispatch":"decode_dispatch_1","scalars":[]}
// SCHED: {"buffers":[{"kind":"temporary","name":"t0"},{"bytes":512,"kind":"state_range","name":"cache","offset":512},{"kind":"input","name":"position"},{"kind":"temporary","name":"t1"}],"dispatch":"decode_dispatch_2","scalars":[]}
// SCHED: {"buffers":[{"kind":"temporary","name":"t2"},{"bytes":512,"kind":"state_range","name":"cache","offset":512},{"kind":"input","name":"position"},{"kind":"temporary","name":"t3"},{"kind":"output","name":"y"}],"dispatch":"decode_dispatch_4","scalars":[]}
// No temporary holds a copy of the cache (1024 bytes) or of its layer.
// SCHED-NOT: "bytes":1024,
// SCHED-NOT: "shape":[1,16,8]
module {
  kiln.param @wq : tensor<8x8xf32> {init = #kiln.init<zeros>}
  func.func @decode(%x: tensor<?x1x8xf32> {kiln.dims = ["batch"], kiln.input = "x"},
                    %pos: tensor<1xi32> {kiln.input = "position"},
                    %cache: tensor<2x?x16x8xf32> {kiln.dims = ["batch"], kiln.state = "cache"})
      -> (tensor<?x1x8xf32> {kiln.dims = ["batch"], kiln.output = "y"},
          tensor<2x?x16x8xf32> {kiln.dims = ["batch"], kiln.state = "cache"}) {
    %w = kiln.param_ref @wq : tensor<8x8xf32>
    %q = kiln.linear %x, %w : tensor<?x1x8xf32>, tensor<8x8xf32> -> tensor<?x1x8xf32>
    %c1, %keys = kiln.kv_cache_append %x into %cache[1] at %pos : tensor<?x1x8xf32> into tensor<2x?x16x8xf32>, tensor<1xi32> -> tensor<?x?x8xf32>
    %y = kiln.attention %q, %keys, %keys position(%pos : tensor<1xi32>) {causal, head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f64} : tensor<?x1x8xf32>, tensor<?x?x8xf32>
    return %y, %c1 : tensor<?x1x8xf32>, tensor<2x?x16x8xf32>
  }
}
