// The manifest read from a hand-written module: config value kinds, the Hugging Face slice
// axis converted from Kiln's layout (dialect) to the stored layout (manifest) for transposed
// and plain parameters, init kinds, entry points (public functions with a body only), and a
// named dimension for every dynamic one.
// RUN: kiln-export %s -o %t.kc
// RUN: kiln info %t.kc | FileCheck %s
// RUN: kiln-export %s --print-manifest | %python -c "import json,sys; m=json.load(sys.stdin); print([(p['name'], p.get('slice'), p.get('transpose', False)) for p in m['parameters']]); print(m['entry_points'][0]['inputs'][0]['shape'], m['entry_points'][0]['outputs'][0]['shape'])" | FileCheck %s --check-prefix=JSON

// CHECK: model: tiny
// CHECK: config:
// CHECK-NEXT: act = "gelu"
// CHECK-NEXT: d = 8
// CHECK-NEXT: eps = 1e-05
// CHECK-NEXT: tied = true
// CHECK-NEXT: targets: (none)
// CHECK-NEXT: entry points:
// CHECK-NEXT: forward(ids: i32[{{[A-Za-z_0-9]+}}, {{[A-Za-z_0-9]+}}]) -> (h: f32[{{[A-Za-z_0-9]+}}, {{[A-Za-z_0-9]+}}, 8])
// CHECK-NEXT: parameters: 4 tensors, 208 values, 832 B
// CHECK-NEXT: emb f32 [16, 8] normal(0, 0.5){{$}}
// CHECK-NEXT: q f32 [8, 8] normal(0, 0.02)  hf: c_attn.weight [slice 0/2 axis 1] (transposed)
// CHECK-NEXT: k.bias f32 [8] zeros  hf: c_attn.bias [slice 1/2 axis 0]{{$}}
// CHECK-NEXT: scale f32 [8] ones{{$}}
// CHECK-NEXT: sections:
// CHECK-NEXT: manifest manifest
// CHECK-NOT: code/

// JSON: [('emb', None, False), ('q', [0, 2, 1], True), ('k.bias', [1, 2, 0], False), ('scale', None, False)]
// JSON-NEXT: ['ids_0', 'ids_1'] ['h_0', 'h_1', 8]

module @tiny attributes {kiln.config = {d = 8 : i64, eps = 1.000000e-05 : f64, act = "gelu", tied = true}} {
  kiln.param @emb : tensor<16x8xf32> {init = #kiln.init<normal>, std = 5.000000e-01 : f64}
  kiln.param @q : tensor<8x8xf32> {hf_name = "c_attn.weight", hf_slice = array<i64: 0, 2, 0>, hf_transpose, init = #kiln.init<normal>, std = 2.000000e-02 : f64}
  kiln.param @k.bias : tensor<8xf32> {hf_name = "c_attn.bias", hf_slice = array<i64: 1, 2, 0>, init = #kiln.init<zeros>}
  kiln.param @scale : tensor<8xf32> {init = #kiln.init<ones>}
  func.func @forward(%ids: tensor<?x?xi32> {kiln.input = "ids"}) -> (tensor<?x?x8xf32> {kiln.output = "h"}) {
    %0 = call @embed(%ids) : (tensor<?x?xi32>) -> tensor<?x?x8xf32>
    return %0 : tensor<?x?x8xf32>
  }
  func.func private @embed(%ids: tensor<?x?xi32>) -> tensor<?x?x8xf32> {
    %w = kiln.param_ref @emb : tensor<16x8xf32>
    %0 = kiln.embedding %ids, %w : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
    return %0 : tensor<?x?x8xf32>
  }
  func.func private @external(tensor<?xf32>) -> tensor<?xf32>
}
