// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s --mlir-print-op-generic | kiln-opt | FileCheck %s

// Module structure as the front-end emits it: configuration, parameters with their
// Hugging Face mapping, named inputs and outputs.

// CHECK: module @gpt2 attributes {kiln.config = {layer_norm_epsilon = 1.000000e-05 : f64, n_embd = 8 : i64, scale_attn = true, variant = "small"}}
module @gpt2 attributes {kiln.config = {n_embd = 8 : i64, layer_norm_epsilon = 1.0e-05 : f64, scale_attn = true, variant = "small"}} {
  // CHECK: kiln.param @wte.weight : tensor<32x8xf32> {hf_name = "wte.weight", init = #kiln.init<normal>, std = 2.000000e-02 : f64}
  kiln.param @"wte.weight" : tensor<32x8xf32> {init = #kiln.init<normal>, std = 0.02, hf_name = "wte.weight"}
  // CHECK: kiln.param @h.0.attn.q.weight : tensor<8x8xf32> {hf_name = "h.0.attn.c_attn.weight", hf_slice = array<i64: 0, 3, 1>, hf_transpose, init = #kiln.init<normal>, std = 2.000000e-02 : f64}
  kiln.param @"h.0.attn.q.weight" : tensor<8x8xf32> {init = #kiln.init<normal>, std = 0.02, hf_name = "h.0.attn.c_attn.weight", hf_transpose, hf_slice = array<i64: 0, 3, 1>}
  // CHECK: kiln.param @ln_f.weight : tensor<8xf32> {init = #kiln.init<ones>}
  kiln.param @"ln_f.weight" : tensor<8xf32> {init = #kiln.init<ones>}
  // CHECK: kiln.param @ln_f.bias : tensor<8xf32> {init = #kiln.init<zeros>}
  kiln.param @"ln_f.bias" : tensor<8xf32> {init = #kiln.init<zeros>}

  // CHECK-LABEL: func.func @forward
  // CHECK-SAME: (%{{.*}}: tensor<?x?xi32> {kiln.input = "ids"}) -> (tensor<?x?x8xf32> {kiln.output = "hidden"})
  func.func @forward(%ids: tensor<?x?xi32> {kiln.input = "ids"}) -> (tensor<?x?x8xf32> {kiln.output = "hidden"}) {
    // CHECK: %[[W:.*]] = kiln.param_ref @wte.weight : tensor<32x8xf32>
    %w = kiln.param_ref @"wte.weight" : tensor<32x8xf32>
    // CHECK: kiln.embedding %{{.*}}, %[[W]]
    %x = kiln.embedding %ids, %w : tensor<?x?xi32>, tensor<32x8xf32> -> tensor<?x?x8xf32>
    return %x : tensor<?x?x8xf32>
  }
}
