"""Benchmarks: the loss and layer timings (`bench`), batch throughput (`throughput`), the
PyTorch peer of the loss (`peer_torch`) and the prepared GPU check (`gpu_check`).

Modules are imported one by one (`from npsynth.benchmarks import bench`).
"""
