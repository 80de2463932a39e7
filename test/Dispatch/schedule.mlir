// kiln-print-dispatch-schedule: each dispatch's buffers in ABI order (operands, then
// results), bound to inputs, parameters, outputs or temporaries; temporaries with their sizes,
// live ranges and arena offsets. t0 (dispatches 0-1) and t2 (2-3) never live together and
// share offset 0; t1 (1-2) overlaps both and gets its own bytes.
// RUN: kiln-opt %s --kiln-to-linalg --kiln-dispatch-fusion --kiln-form-dispatches --kiln-print-dispatch-schedule -o /dev/null | FileCheck %s
// RUN: kiln-opt %s --kiln-to-linalg --kiln-dispatch-fusion --kiln-form-dispatches --kiln-print-dispatch-schedule=alignment=4096 -o /dev/null | FileCheck %s --check-prefix=ALIGN

// CHECK: {"version": 1, "entry_point": "chain",
// CHECK-NEXT: "dispatches": [
// CHECK-NEXT: {"buffers":[{"kind":"input","name":"x"},{"kind":"parameter","name":"g"},{"kind":"parameter","name":"b"},{"kind":"temporary","name":"t0"}],"dispatch":"chain_dispatch_0","scalars":[]},
// CHECK-NEXT: {"buffers":[{"kind":"temporary","name":"t0"},{"kind":"parameter","name":"w1"},{"kind":"parameter","name":"b"},{"kind":"temporary","name":"t1"}],"dispatch":"chain_dispatch_1","scalars":[]},
// CHECK-NEXT: {"buffers":[{"kind":"temporary","name":"t1"},{"kind":"parameter","name":"w2"},{"kind":"temporary","name":"t2"}],"dispatch":"chain_dispatch_2","scalars":[]},
// CHECK-NEXT: {"buffers":[{"kind":"temporary","name":"t2"},{"kind":"parameter","name":"g"},{"kind":"parameter","name":"b"},{"kind":"output","name":"y"}],"dispatch":"chain_dispatch_3","scalars":[]}],
// CHECK-NEXT: "temporaries": [
// CHECK-NEXT: {"bytes":3072,"dtype":"f32","first":0,"last":1,"name":"t0","offset":0,"shape":[4,3,64]},
// CHECK-NEXT: {"bytes":3072,"dtype":"f32","first":1,"last":2,"name":"t1","offset":3072,"shape":[12,64]},
// CHECK-NEXT: {"bytes":3072,"dtype":"f32","first":2,"last":3,"name":"t2","offset":0,"shape":[12,64]}],
// CHECK-NEXT: "temporary_bytes": 9216, "arena_bytes": 6144}

// ALIGN: {"bytes":3072,"dtype":"f32","first":1,"last":2,"name":"t1","offset":4096,"shape":[12,64]},
// ALIGN: "temporary_bytes": 9216, "arena_bytes": 8192}
module {
  kiln.param @g : tensor<64xf32> {init = #kiln.init<ones>}
  kiln.param @b : tensor<64xf32> {init = #kiln.init<zeros>}
  kiln.param @w1 : tensor<64x64xf32> {init = #kiln.init<zeros>}
  kiln.param @w2 : tensor<64x64xf32> {init = #kiln.init<zeros>}
  func.func @chain(%x: tensor<4x3x64xf32> {kiln.input = "x"}) -> (tensor<4x3x64xf32> {kiln.output = "y"}) {
    %g = kiln.param_ref @g : tensor<64xf32>
    %b = kiln.param_ref @b : tensor<64xf32>
    %w1 = kiln.param_ref @w1 : tensor<64x64xf32>
    %w2 = kiln.param_ref @w2 : tensor<64x64xf32>
    %n = kiln.layer_norm %x, %g, %b {eps = 1.0e-05 : f64} : tensor<4x3x64xf32>, tensor<64xf32>
    %h = kiln.linear %n, %w1, %b : tensor<4x3x64xf32>, tensor<64x64xf32>, tensor<64xf32> -> tensor<4x3x64xf32>
    %o = kiln.linear %h, %w2 : tensor<4x3x64xf32>, tensor<64x64xf32> -> tensor<4x3x64xf32>
    %y = kiln.layer_norm %o, %g, %b {eps = 1.0e-05 : f64} : tensor<4x3x64xf32>, tensor<64xf32>
    return %y : tensor<4x3x64xf32>
  }
}
