"""Benchmarks: the loss and layer timings (`bench`), batch throughput (`throughput`) and the
PyTorch peer of the loss (`peer_torch`).

Modules are imported one by one (`from npsynth.benchmarks import bench`).
"""
