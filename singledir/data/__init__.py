"""The data floor: the loader registry and stratified sampler (``raw``), the built-in datasets'
loaders (``loaders``), and datasets as tensors with label corruption (``dataset``)."""
