"""training: the Symmetric UNet of DeLatte et al. (2018), its experiments, data and ONNX export.

Uses TensorFlow/Keras (install with ``pip install -e '.[train]'``) and geocore
for geometry and targets; geocore never imports this package.
"""
