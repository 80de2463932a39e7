// RUN: kiln-opt %s | kiln-opt | FileCheck %s

// Symbolic dimension names and the Hugging Face prefix / ignore lists survive a round trip.

// CHECK: module attributes {kiln.hf_ignore = ["lm_head.weight", "h.*.attn.bias"], kiln.hf_prefixes = ["transformer.", ""]}
module attributes {kiln.hf_prefixes = ["transformer.", ""], kiln.hf_ignore = ["lm_head.weight", "h.*.attn.bias"]} {
  // CHECK-LABEL: func.func @forward
  // CHECK-SAME: kiln.dims = ["batch", "seq"]
  // CHECK-SAME: kiln.dims = ["batch", "seq"]
  func.func @forward(%ids: tensor<?x?xi32> {kiln.input = "ids", kiln.dims = ["batch", "seq"]})
      -> (tensor<?x?xi32> {kiln.output = "same", kiln.dims = ["batch", "seq"]}) {
    return %ids : tensor<?x?xi32>
  }
}
