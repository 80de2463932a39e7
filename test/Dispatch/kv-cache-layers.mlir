// Two decoder layers appending to and reading one KV cache (`[2, batch, 16, 8]`): formation
// splits each append into the append into the layer's slab and the slab's write-back, and the
// layer's slab (`[batch, 16, 8]`) is the operand of the append and attention dispatches, so
// kiln-dedupe-dispatches merges the two layers' appends, scores and weighted sums into one
// function each, in prefill and in decode. The schedule binds layer 0 at byte 0 and layer 1 at
// byte 512 (16 x 8 floats) of the state, in place, and no dispatch copies the cache.
// RUN: kiln-opt %s --kiln-specialize-shapes="entry=prefill dims=batch=1,seq=4" --kiln-specialize-shapes="entry=decode dims=batch=1" --kiln-to-linalg --kiln-dispatch-fusion --kiln-form-dispatches=entries=prefill,decode --kiln-dedupe-dispatches | FileCheck %s --check-prefix=IR
// RUN: kiln-opt %s --kiln-specialize-shapes="entry=prefill dims=batch=1,seq=4" --kiln-specialize-shapes="entry=decode dims=batch=1" --kiln-to-linalg --kiln-dispatch-fusion --kiln-form-dispatches=entries=prefill,decode --kiln-dedupe-dispatches --kiln-print-dispatch-schedule=entries=prefill,decode -o /dev/null | FileCheck %s

module {
  kiln.param @wq : tensor<8x8xf32> {init = #kiln.init<zeros>}
  func.func @prefill(%x: tensor<?x?x8xf32> {kiln.dims = ["batch", "seq"], kiln.input = "x"},
                     %pos: tensor<1xi32> {kiln.input = "position"},
                     %cache: tensor<2x?x16x8xf32> {kiln.dims = ["batch"], kiln.state = "cache"})
      -> (tensor<?x?x8xf32> {kiln.dims = ["batch", "seq"], kiln.output = "y"},
          tensor<2x?x16x8xf32> {kiln.dims = ["batch"], kiln.state = "cache"}) {
    %w = kiln.param_ref @wq : tensor<8x8xf32>
    %q0 = kiln.linear %x, %w : tensor<?x?x8xf32>, tensor<8x8xf32> -> tensor<?x?x8xf32>
    %c1, %keys0 = kiln.kv_cache_append %x into %cache[0] at %pos : tensor<?x?x8xf32> into tensor<2x?x16x8xf32>, tensor<1xi32> -> tensor<?x?x8xf32>
    %y0 = kiln.attention %q0, %keys0, %keys0 position(%pos : tensor<1xi32>) {causal, head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f64} : tensor<?x?x8xf32>, tensor<?x?x8xf32>
    %q1 = kiln.linear %y0, %w : tensor<?x?x8xf32>, tensor<8x8xf32> -> tensor<?x?x8xf32>
    %c2, %keys1 = kiln.kv_cache_append %y0 into %c1[1] at %pos : tensor<?x?x8xf32> into tensor<2x?x16x8xf32>, tensor<1xi32> -> tensor<?x?x8xf32>
    %y1 = kiln.attention %q1, %keys1, %keys1 position(%pos : tensor<1xi32>) {causal, head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f64} : tensor<?x?x8xf32>, tensor<?x?x8xf32>
    return %y1, %c2 : tensor<?x?x8xf32>, tensor<2x?x16x8xf32>
  }
  func.func @decode(%x: tensor<?x1x8xf32> {kiln.dims = ["batch"], kiln.input = "x"},
                    %pos: tensor<1xi32> {kiln.input = "position"},
                    %cache: tensor<2x?x16x8xf32> {kiln.dims = ["batch"], kiln.state = "cache"})
      -> (tensor<?x1x8xf32> {kiln.dims = ["batch"], kiln.output = "y"},
          tensor<2x?x16x8xf32> {kiln.dims = ["batch"], kiln.state = "cache"}) {
    %w = kiln.param_ref @wq : tensor<8x8xf32>
    %q0 = kiln.linear %x, %w : tensor<?x1x8xf32>, tensor<8x8xf32> -> tensor<?x1x8xf32>
    %c1, %keys0 = kiln.kv_cache_append %x into %cache[0] at %pos : tensor<?x1x8xf32> into tensor<2x?x16x8xf32>, tensor<1xi32> -> tensor<?x?x8xf32>
    %y0 = kiln.attention %q0, %keys0, %keys0 position(%pos : tensor<1xi32>) {causal, head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f64} : tensor<?x1x8xf32>, tensor<?x?x8xf32>
    %q1 = kiln.linear %y0, %w : tensor<?x1x8xf32>, tensor<8x8xf32> -> tensor<?x1x8xf32>
    %c2, %keys1 = kiln.kv_cache_append %y0 into %c1[1] at %pos : tensor<?x1x8xf32> into tensor<2x?x16x8xf32>, tensor<1xi32> -> tensor<?x?x8xf32>
    %y1 = kiln.attention %q1, %keys1, %keys1 position(%pos : tensor<1xi32>) {causal, head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f64} : tensor<?x1x8xf32>, tensor<?x?x8xf32>
    return %y1, %c2 : tensor<?x1x8xf32>, tensor<2x?x16x8xf32>
  }
}

// Both layers call the same append, scores and weighted-sum functions, with their own layer
// of the cache: a slice of the state's latest version, put back after the append.
// IR-LABEL: func.func @prefill
// IR: %[[L0:.*]] = tensor.extract_slice %arg2[0, 0, 0, 0] [1, 1, 16, 8] [1, 1, 1, 1] : tensor<2x1x16x8xf32> to tensor<1x16x8xf32>
// IR: %[[A0:.*]] = call @[[APPEND:prefill_dispatch_[0-9]+]](%arg0, %[[L0]], %arg1)
// IR: %[[C1:.*]] = tensor.insert_slice %[[A0]] into %arg2[0, 0, 0, 0] [1, 1, 16, 8] [1, 1, 1, 1]
// IR: %[[K0:.*]] = tensor.extract_slice %[[C1]][0, 0, 0, 0] [1, 1, 16, 8]
// IR: %[[V0:.*]] = tensor.expand_shape %[[K0]]
// IR: call @[[SCORES:prefill_dispatch_[0-9]+]](%{{.*}}, %[[V0]], %arg1)
// IR: call @[[PV:prefill_dispatch_[0-9]+]](%{{.*}}, %[[V0]], %arg1,
// IR: %[[L1:.*]] = tensor.extract_slice %[[C1]][1, 0, 0, 0] [1, 1, 16, 8] [1, 1, 1, 1] : tensor<2x1x16x8xf32> to tensor<1x16x8xf32>
// IR: %[[A1:.*]] = call @[[APPEND]](%{{.*}}, %[[L1]], %arg1)
// IR: %[[C2:.*]] = tensor.insert_slice %[[A1]] into %[[C1]][1, 0, 0, 0] [1, 1, 16, 8] [1, 1, 1, 1]
// IR: %[[K1:.*]] = tensor.extract_slice %[[C2]][1, 0, 0, 0] [1, 1, 16, 8]
// IR: %[[V1:.*]] = tensor.expand_shape %[[K1]]
// IR: call @[[SCORES]](%{{.*}}, %[[V1]], %arg1)
// IR: call @[[PV]](%{{.*}}, %[[V1]], %arg1,
// IR: return %{{.*}}, %[[C2]]
// The append reads and writes the layer alone, at the position; no layer index inside.
// IR: func.func private @[[APPEND]](%{{.*}}: tensor<1x4x8xf32>, %[[LAYER:.*]]: tensor<1x16x8xf32>, %{{.*}}: tensor<1xi32>) -> tensor<1x16x8xf32>
// IR: %[[P:.*]] = arith.index_cast
// IR: %[[U:.*]] = tensor.insert_slice %{{.*}} into %[[LAYER]][0, %[[P]], 0] [1, 4, 8] [1, 1, 1]
// IR-NEXT: return %[[U]]
// IR-LABEL: func.func @decode
// IR: call @[[DAPPEND:decode_dispatch_[0-9]+]](%arg0, %{{.*}}, %arg1) : (tensor<1x1x8xf32>, tensor<1x16x8xf32>, tensor<1xi32>) -> tensor<1x16x8xf32>
// IR: call @[[DSCORES:decode_dispatch_[0-9]+]](
// IR: call @[[DPV:decode_dispatch_[0-9]+]](
// IR: call @[[DAPPEND]](
// IR: call @[[DSCORES]](
// IR: call @[[DPV]](
// IR: return
// No dispatch function is left for a second layer, and none copies the cache.
// IR-NOT: func.func private @{{(prefill|decode)}}_dispatch_{{[5-9]}}(
// IR-NOT: linalg.copy

// Layer 0 is bytes [0, 512) of the state and layer 1 bytes [512, 1024), bound in place by the
// appends (operand and result) and read by the scores and the weighted sum.
// CHECK: "entry_point": "prefill"
// CHECK: {"buffers":[{"kind":"input","name":"x"},{"bytes":512,"kind":"state_range","name":"cache","offset":0},{"kind":"input","name":"position"},{"bytes":512,"kind":"state_range","name":"cache","offset":0}],"dispatch":"[[APPEND:prefill_dispatch_[0-9]+]]"
// CHECK: {"buffers":[{"kind":"temporary","name":"t0"},{"bytes":512,"kind":"state_range","name":"cache","offset":0},{"kind":"input","name":"position"},{"kind":"temporary","name":"t1"}],"dispatch":"[[SCORES:prefill_dispatch_[0-9]+]]"
// CHECK: {"bytes":512,"kind":"state_range","name":"cache","offset":0},{"kind":"input","name":"position"},{"kind":"temporary","name":"t3"},{"kind":"temporary","name":"t4"}],"dispatch":"[[PV:prefill_dispatch_[0-9]+]]"
// CHECK: {"buffers":[{"kind":"temporary","name":"t4"},{"bytes":512,"kind":"state_range","name":"cache","offset":512},{"kind":"input","name":"position"},{"bytes":512,"kind":"state_range","name":"cache","offset":512}],"dispatch":"[[APPEND]]"
// CHECK: {"buffers":[{"kind":"temporary","name":"t5"},{"bytes":512,"kind":"state_range","name":"cache","offset":512},{"kind":"input","name":"position"},{"kind":"temporary","name":"t6"}],"dispatch":"[[SCORES]]"
// CHECK: {"bytes":512,"kind":"state_range","name":"cache","offset":512},{"kind":"input","name":"position"},{"kind":"temporary","name":"t8"},{"kind":"output","name":"y"}],"dispatch":"[[PV]]"
// No temporary holds a copy of a layer (512 bytes of [1, 16, 8]) or of the cache.
// CHECK-NOT: "shape":[1,16,8]
// CHECK-NOT: "shape":[2,1,16,8]
// CHECK: "entry_point": "decode"
// CHECK: {"bytes":512,"kind":"state_range","name":"cache","offset":0},{"kind":"input","name":"position"},{"bytes":512,"kind":"state_range","name":"cache","offset":0}],"dispatch":"[[DAPPEND:decode_dispatch_[0-9]+]]"
// CHECK: {"bytes":512,"kind":"state_range","name":"cache","offset":0},{"kind":"input","name":"position"},{"kind":"temporary","name":"t1"}],"dispatch":"[[DSCORES:decode_dispatch_[0-9]+]]"
// CHECK: {"bytes":512,"kind":"state_range","name":"cache","offset":512},{"kind":"input","name":"position"},{"bytes":512,"kind":"state_range","name":"cache","offset":512}],"dispatch":"[[DAPPEND]]"
// CHECK: {"bytes":512,"kind":"state_range","name":"cache","offset":512},{"kind":"input","name":"position"},{"kind":"temporary","name":"t6"}],"dispatch":"[[DSCORES]]"
// CHECK-NOT: "shape":[1,16,8]
// CHECK-NOT: "shape":[2,1,16,8]
