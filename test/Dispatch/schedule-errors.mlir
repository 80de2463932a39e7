// The schedule refuses entry points it cannot describe.
// RUN: kiln-opt %s --split-input-file --kiln-print-dispatch-schedule=entries=passthrough,twice,computes --verify-diagnostics -o /dev/null

// expected-error @+1 {{entry point 'passthrough': output 'y' is not computed by a dispatch}}
func.func @passthrough(%x: tensor<4xf32> {kiln.input = "x"}) -> (tensor<4xf32> {kiln.output = "y"}) {
  return %x : tensor<4xf32>
}

// -----

func.func private @twice_dispatch_0(%x: tensor<4xf32>) -> tensor<4xf32> attributes {kiln_dispatch = "twice"} {
  return %x : tensor<4xf32>
}
// expected-error @+1 {{entry point 'twice': outputs 'a' and 'b' are the same buffer}}
func.func @twice(%x: tensor<4xf32> {kiln.input = "x"}) -> (tensor<4xf32> {kiln.output = "a"}, tensor<4xf32> {kiln.output = "b"}) {
  %y = call @twice_dispatch_0(%x) : (tensor<4xf32>) -> tensor<4xf32>
  return %y, %y : tensor<4xf32>, tensor<4xf32>
}

// -----

func.func @computes(%x: tensor<4xf32> {kiln.input = "x"}) -> (tensor<4xf32> {kiln.output = "y"}) {
  // expected-error @+1 {{entry point 'computes' still computes with 'arith.addf' outside a dispatch}}
  %y = arith.addf %x, %x : tensor<4xf32>
  return %y : tensor<4xf32>
}
