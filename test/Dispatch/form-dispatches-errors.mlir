// Dispatch formation refuses what it cannot cut, naming the entry point.
// RUN: kiln-opt %s --split-input-file --kiln-form-dispatches --verify-diagnostics

// expected-error @+1 {{entry point 'dynamic' takes the dynamic shape 'tensor<?x8xf32>'; bind its dimensions first (kiln-specialize-shapes)}}
func.func @dynamic(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  return %x : tensor<?x8xf32>
}

// -----

func.func private @helper(tensor<4xf32>) -> tensor<4xf32>
func.func @calls(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{entry point 'calls' calls another function; inline it first}}
  %y = call @helper(%x) : (tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}
