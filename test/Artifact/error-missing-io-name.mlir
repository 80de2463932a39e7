// Every entry point argument and result needs its kiln.input / kiln.output name.
// RUN: rm -f %t.kc
// RUN: not kiln-export %s -o %t.kc 2>&1 | FileCheck %s -DFILE=%s
// RUN: not test -e %t.kc

module @m {
  // CHECK: [[FILE]]:[[# @LINE + 1]]:3: error: argument 1 of entry point @forward has no 'kiln.input' name
  func.func @forward(%a: tensor<?xi32> {kiln.input = "ids"}, %b: tensor<?xi32>) -> tensor<?xi32> {
    return %a : tensor<?xi32>
  }
}
