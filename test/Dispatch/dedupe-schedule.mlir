// From the kiln dialect to the schedule with kiln-dedupe-dispatches after formation: the two
// biased linear layers of @forward share one dispatch function (their weights are bound by
// the schedule), @prefill reuses @forward's layer norm and linear dispatches, its second layer
// norm (eps 1e-6, not 1e-5) stays its own, and so does the linear without a bias. The
// schedules name the surviving functions. @decode's dispatches are all @forward's: without
// `entries`, its schedule is printed too.
// RUN: kiln-opt %s --kiln-to-linalg --kiln-dispatch-fusion --kiln-form-dispatches --kiln-dedupe-dispatches | FileCheck %s --check-prefix=IR
// RUN: kiln-opt %s --kiln-to-linalg --kiln-dispatch-fusion --kiln-form-dispatches --kiln-dedupe-dispatches --kiln-print-dispatch-schedule=entries=forward,prefill -o /dev/null | FileCheck %s
// RUN: kiln-opt %s --kiln-to-linalg --kiln-dispatch-fusion --kiln-form-dispatches --kiln-dedupe-dispatches --kiln-print-dispatch-schedule -o /dev/null | FileCheck %s --check-prefix=ALL

// IR-LABEL: func.func @forward
// IR: call @forward_dispatch_0(%arg0,
// IR: call @forward_dispatch_1(
// IR: call @forward_dispatch_2(
// IR: call @forward_dispatch_1(
// IR: call @forward_dispatch_4(
// IR: func.func private @forward_dispatch_0(
// IR: func.func private @forward_dispatch_1(
// IR: func.func private @forward_dispatch_2(
// IR-NOT: @forward_dispatch_3
// IR: func.func private @forward_dispatch_4(
// IR-LABEL: func.func @prefill
// IR: call @forward_dispatch_0(%arg0,
// IR: call @forward_dispatch_1(
// IR: call @prefill_dispatch_2(
// IR: func.func private @prefill_dispatch_2(
// IR-NOT: @prefill_dispatch_0
// IR-NOT: @prefill_dispatch_1

// CHECK: {"version": 1, "entry_point": "forward",
// CHECK-NEXT: "dispatches": [
// CHECK-NEXT: {"buffers":[{"kind":"input","name":"x"},{"kind":"parameter","name":"g"},{"kind":"parameter","name":"b"},{"kind":"temporary","name":"t0"}],"dispatch":"forward_dispatch_0","scalars":[]},
// CHECK-NEXT: {"buffers":[{"kind":"temporary","name":"t0"},{"kind":"parameter","name":"w1"},{"kind":"parameter","name":"b"},{"kind":"temporary","name":"t1"}],"dispatch":"forward_dispatch_1","scalars":[]},
// CHECK-NEXT: {"buffers":[{"kind":"temporary","name":"t1"},{"kind":"parameter","name":"g"},{"kind":"parameter","name":"b"},{"kind":"temporary","name":"t2"}],"dispatch":"forward_dispatch_2","scalars":[]},
// CHECK-NEXT: {"buffers":[{"kind":"temporary","name":"t2"},{"kind":"parameter","name":"w2"},{"kind":"parameter","name":"b"},{"kind":"temporary","name":"t3"}],"dispatch":"forward_dispatch_1","scalars":[]},
// CHECK-NEXT: {"buffers":[{"kind":"temporary","name":"t3"},{"kind":"parameter","name":"w2"},{"kind":"output","name":"y"}],"dispatch":"forward_dispatch_4","scalars":[]}],
// CHECK: {"version": 1, "entry_point": "prefill",
// CHECK-NEXT: "dispatches": [
// CHECK-NEXT: {"buffers":[{"kind":"input","name":"x"},{"kind":"parameter","name":"g"},{"kind":"parameter","name":"b"},{"kind":"temporary","name":"t0"}],"dispatch":"forward_dispatch_0","scalars":[]},
// CHECK-NEXT: {"buffers":[{"kind":"temporary","name":"t0"},{"kind":"parameter","name":"w1"},{"kind":"parameter","name":"b"},{"kind":"temporary","name":"t1"}],"dispatch":"forward_dispatch_1","scalars":[]},
// CHECK-NEXT: {"buffers":[{"kind":"temporary","name":"t1"},{"kind":"parameter","name":"g"},{"kind":"parameter","name":"b"},{"kind":"output","name":"y"}],"dispatch":"prefill_dispatch_2","scalars":[]}],
// ALL: "entry_point": "forward"
// ALL: "entry_point": "prefill"
// ALL: "entry_point": "decode",
// ALL-NEXT: "dispatches": [
// ALL-NEXT: "dispatch":"forward_dispatch_0"
// ALL-NEXT: "dispatch":"forward_dispatch_1"
// ALL-NOT: "entry_point"
module {
  kiln.param @g : tensor<64xf32> {init = #kiln.init<ones>}
  kiln.param @b : tensor<64xf32> {init = #kiln.init<zeros>}
  kiln.param @w1 : tensor<64x64xf32> {init = #kiln.init<zeros>}
  kiln.param @w2 : tensor<64x64xf32> {init = #kiln.init<zeros>}
  func.func @forward(%x: tensor<4x3x64xf32> {kiln.input = "x"}) -> (tensor<4x3x64xf32> {kiln.output = "y"}) {
    %g = kiln.param_ref @g : tensor<64xf32>
    %b = kiln.param_ref @b : tensor<64xf32>
    %w1 = kiln.param_ref @w1 : tensor<64x64xf32>
    %w2 = kiln.param_ref @w2 : tensor<64x64xf32>
    %n1 = kiln.layer_norm %x, %g, %b {eps = 1.0e-05 : f64} : tensor<4x3x64xf32>, tensor<64xf32>
    %h1 = kiln.linear %n1, %w1, %b : tensor<4x3x64xf32>, tensor<64x64xf32>, tensor<64xf32> -> tensor<4x3x64xf32>
    %n2 = kiln.layer_norm %h1, %g, %b {eps = 1.0e-05 : f64} : tensor<4x3x64xf32>, tensor<64xf32>
    %h2 = kiln.linear %n2, %w2, %b : tensor<4x3x64xf32>, tensor<64x64xf32>, tensor<64xf32> -> tensor<4x3x64xf32>
    %y = kiln.linear %h2, %w2 : tensor<4x3x64xf32>, tensor<64x64xf32> -> tensor<4x3x64xf32>
    return %y : tensor<4x3x64xf32>
  }
  func.func @prefill(%x: tensor<4x3x64xf32> {kiln.input = "x"}) -> (tensor<4x3x64xf32> {kiln.output = "y"}) {
    %g = kiln.param_ref @g : tensor<64xf32>
    %b = kiln.param_ref @b : tensor<64xf32>
    %w1 = kiln.param_ref @w1 : tensor<64x64xf32>
    %n1 = kiln.layer_norm %x, %g, %b {eps = 1.0e-05 : f64} : tensor<4x3x64xf32>, tensor<64xf32>
    %h1 = kiln.linear %n1, %w1, %b : tensor<4x3x64xf32>, tensor<64x64xf32>, tensor<64xf32> -> tensor<4x3x64xf32>
    %n2 = kiln.layer_norm %h1, %g, %b {eps = 1.0e-06 : f64} : tensor<4x3x64xf32>, tensor<64xf32>
    return %n2 : tensor<4x3x64xf32>
  }
  func.func @decode(%x: tensor<4x3x64xf32> {kiln.input = "x"}) -> (tensor<4x3x64xf32> {kiln.output = "y"}) {
    %g = kiln.param_ref @g : tensor<64xf32>
    %b = kiln.param_ref @b : tensor<64xf32>
    %w1 = kiln.param_ref @w1 : tensor<64x64xf32>
    %n1 = kiln.layer_norm %x, %g, %b {eps = 1.0e-05 : f64} : tensor<4x3x64xf32>, tensor<64xf32>
    %h1 = kiln.linear %n1, %w1, %b : tensor<4x3x64xf32>, tensor<64x64xf32>, tensor<64xf32> -> tensor<4x3x64xf32>
    return %h1 : tensor<4x3x64xf32>
  }
}
