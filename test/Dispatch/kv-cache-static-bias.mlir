// T5's decoder self-attention in a decode step: a relative position bias whose queries are
// placed at the run-time position and whose keys are layer 0's KV-cache prefix. Specialization
// gives the append its static-capacity form, so the bias is [H, S, capacity] and static; every
// layer's attention reads it. The bias dispatch reads only the table and the position: bucket
// of j - (position + i) over the whole capacity (the attention's mask hides j > position + i).
// RUN: kiln-opt %s --kiln-specialize-shapes="entry=decode dims=batch=1" | FileCheck %s --check-prefix=SPEC
// RUN: kiln-opt %s --kiln-specialize-shapes="entry=decode dims=batch=1" --kiln-to-linalg --kiln-dispatch-fusion --kiln-form-dispatches=entries=decode | FileCheck %s --check-prefix=FORM
// RUN: kiln-opt %s --kiln-specialize-shapes="entry=decode dims=batch=1" --kiln-to-linalg --kiln-dispatch-fusion --kiln-form-dispatches=entries=decode --kiln-print-dispatch-schedule -o /dev/null | FileCheck %s --check-prefix=SCHED

// SPEC-LABEL: func.func @decode
// SPEC-SAME: %[[POS:[^:]*]]: tensor<1xi32> {kiln.input = "position"}
// SPEC: %{{.*}}, %[[K0:.*]] = kiln.kv_cache_append %{{.*}} into %{{.*}}[0] at %[[POS]] capacity : tensor<1x1x8xf32> into tensor<2x1x16x8xf32>, tensor<1xi32> -> tensor<1x16x8xf32>
// SPEC: %[[BIAS:.*]] = kiln.relative_position_bias %{{.*}}, %[[K0]], %{{.*}} position(%[[POS]] : tensor<1xi32>) {{.*}} : tensor<1x1x8xf32>, tensor<1x16x8xf32>, tensor<32x2xf32> -> tensor<2x1x16xf32>
// SPEC: kiln.attention %{{.*}}, %[[K0]], %[[K0]] bias(%[[BIAS]] : tensor<2x1x16xf32>) position(%[[POS]] : tensor<1xi32>) {causal{{.*}}} : tensor<1x1x8xf32>, tensor<1x16x8xf32>
// SPEC: %{{.*}}, %[[K1:.*]] = kiln.kv_cache_append %{{.*}} into %{{.*}}[1] at %[[POS]] capacity
// SPEC: kiln.attention %{{.*}}, %[[K1]], %[[K1]] bias(%[[BIAS]] : tensor<2x1x16xf32>) position(%[[POS]] : tensor<1xi32>)
// SPEC-NOT: ?

// The bias dispatch: [2, 1, 16] from the table and the position only.
// FORM-LABEL: func.func @decode
// FORM: %[[B:.*]] = call @decode_dispatch_[[BD:[0-9]+]](%arg1, %arg2) : (tensor<1xi32>, tensor<32x2xf32>) -> tensor<2x1x16xf32>
// FORM: func.func private @decode_dispatch_[[BD]]
// FORM-SAME: (%[[P:.*]]: tensor<1xi32>, %[[TABLE:.*]]: tensor<32x2xf32>) -> tensor<2x1x16xf32>
// FORM: %[[E:.*]] = tensor.extract %[[P]]
// FORM: %[[START:.*]] = arith.extsi %[[E]] : i32 to i64
// FORM: linalg.generic
// FORM: %[[I:.*]] = linalg.index 1
// FORM: %[[I64:.*]] = arith.index_cast %[[I]] : index to i64
// FORM: %[[QPOS:.*]] = arith.addi %[[I64]], %[[START]] : i64
// FORM: %[[J:.*]] = linalg.index 2
// FORM: %[[J64:.*]] = arith.index_cast %[[J]] : index to i64
// FORM: arith.subi %[[J64]], %[[QPOS]] : i64
// FORM: tensor.extract %[[TABLE]]
// FORM: -> tensor<2x1x16xf32>

// Both layers' scores read that one bias temporary; no dispatch copies the cache.
// SCHED: {"buffers":[{"kind":"input","name":"position"},{"kind":"input","name":"table"},{"kind":"temporary","name":"[[BT:t[0-9]+]]"}]
// SCHED: {"kind":"temporary","name":"[[BT]]"}
// SCHED: {"kind":"temporary","name":"[[BT]]"}
// SCHED: "temporaries":
// SCHED-NEXT: {"bytes":128,"dtype":"f32","first":{{[0-9]+}},"last":{{[0-9]+}},"name":"[[BT]]"{{.*}}"shape":[2,1,16]}
// SCHED-NOT: "bytes":1024,
module {
  func.func @decode(%x: tensor<?x1x8xf32> {kiln.dims = ["batch"], kiln.input = "x"},
                    %pos: tensor<1xi32> {kiln.input = "position"},
                    %table: tensor<32x2xf32> {kiln.input = "table"},
                    %cache: tensor<2x?x16x8xf32> {kiln.dims = ["batch"], kiln.state = "cache"})
      -> (tensor<?x1x8xf32> {kiln.dims = ["batch"], kiln.output = "y"},
          tensor<2x?x16x8xf32> {kiln.dims = ["batch"], kiln.state = "cache"}) {
    %c0, %k0 = kiln.kv_cache_append %x into %cache[0] at %pos : tensor<?x1x8xf32> into tensor<2x?x16x8xf32>, tensor<1xi32> -> tensor<?x?x8xf32>
    %bias = kiln.relative_position_bias %x, %k0, %table position(%pos : tensor<1xi32>) {max_distance = 128 : i64, num_buckets = 32 : i64, num_heads = 2 : i64} : tensor<?x1x8xf32>, tensor<?x?x8xf32>, tensor<32x2xf32> -> tensor<2x1x?xf32>
    %y0 = kiln.attention %x, %k0, %k0 bias(%bias : tensor<2x1x?xf32>) position(%pos : tensor<1xi32>) {causal, head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 1.0 : f64} : tensor<?x1x8xf32>, tensor<?x?x8xf32>
    %c1, %k1 = kiln.kv_cache_append %y0 into %c0[1] at %pos : tensor<?x1x8xf32> into tensor<2x?x16x8xf32>, tensor<1xi32> -> tensor<?x?x8xf32>
    %y1 = kiln.attention %y0, %k1, %k1 bias(%bias : tensor<2x1x?xf32>) position(%pos : tensor<1xi32>) {causal, head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 1.0 : f64} : tensor<?x1x8xf32>, tensor<?x?x8xf32>
    return %y1, %c1 : tensor<?x1x8xf32>, tensor<2x?x16x8xf32>
  }
}
