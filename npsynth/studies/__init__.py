"""Studies built on the harness: the speed/quality frontier (`frontier`), the loss weight
sweep (`sweep`), the object-removal gallery (`gallery`), content-network scoring
(`content`), the built-in demo (`demo`) and the blind side-by-side study (`study`).

Modules are imported one by one (`from npsynth.studies import sweep`).
"""
