print("benchmarks arrive with the encoder harness")
