"""The dataset wing: the comparison model, its YAML loader, the cache and the filter index.

Plain Python: never imports textual or rich.
"""
