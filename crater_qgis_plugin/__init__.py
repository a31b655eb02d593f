"""crater_qgis_plugin: detect Mars craters on a QGIS raster layer through geocore.

A thin QGIS layer: it turns layers into arrays and pixel grids, calls geocore,
and turns craters back into layers. It imports only numpy, onnxruntime, QGIS
and geocore's numpy-only modules.
"""
