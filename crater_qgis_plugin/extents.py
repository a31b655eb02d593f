"""The part of a raster layer to search: the current map view, or selected polygons.

Both are computed on the main thread from the map canvas or a polygon layer and
returned in the raster layer's CRS, for
:meth:`~crater_qgis_plugin.layer_source.LayerRasterSource.from_layer`.
"""

from __future__ import annotations

from qgis.core import QgsCoordinateTransform, QgsCsException, QgsProject, QgsRectangle

from .errors import PluginInputError

__all__ = ["map_view_extent", "selected_polygons"]


def map_view_extent(canvas, layer) -> QgsRectangle:
    """The part of ``layer`` shown in the map canvas, in the layer's CRS.

    Raises
    ------
    PluginInputError
        The view cannot be brought to the layer's CRS (an Earth map view over a
        Mars layer), or it does not overlap the layer.
    """
    view = canvas.extent()
    view_crs = canvas.mapSettings().destinationCrs()
    if view_crs.isValid() and layer.crs().isValid() and view_crs != layer.crs():
        try:
            transform = QgsCoordinateTransform(view_crs, layer.crs(), QgsProject.instance())
            view = transform.transformBoundingBox(view)
        except QgsCsException as err:
            raise PluginInputError(
                f"the map view (CRS {view_crs.description() or view_crs.toProj()}) cannot be "
                f"brought to the layer's CRS ({layer.crs().description()}): {err}; set the "
                "project CRS to the layer's (right-click the layer, Set CRS > Set Project CRS "
                "from Layer) or choose the whole layer"
            ) from err
    part = view.intersect(layer.extent())
    if part.isEmpty():
        raise PluginInputError(
            f"the current map view does not overlap layer {layer.name()!r}; zoom to the layer "
            "or choose the whole layer as extent"
        )
    return part


def selected_polygons(polygon_layer, layer) -> tuple[QgsRectangle, tuple[str, ...]]:
    """The selected polygons of ``polygon_layer`` in the CRS of the raster ``layer``.

    Returns
    -------
    extent : QgsRectangle
        Their bounding box clipped to the raster, in the raster's CRS.
    polygons_wkt : tuple of str
        Their geometries as WKT in the raster's CRS.

    Raises
    ------
    PluginInputError
        No polygon layer, no selected polygon, polygons that cannot be brought
        to the raster's CRS, or polygons outside the raster.
    """
    if polygon_layer is None:
        raise PluginInputError(
            "extent 'selected polygons' needs a polygon layer; choose one, or another extent"
        )
    features = list(polygon_layer.getSelectedFeatures())
    if not features:
        raise PluginInputError(
            f"no polygon is selected in layer {polygon_layer.name()!r}; select the areas to "
            "search (Select Features tool) or choose another extent"
        )
    transform = None
    if polygon_layer.crs() != layer.crs():
        transform = QgsCoordinateTransform(polygon_layer.crs(), layer.crs(), QgsProject.instance())
    wkts, box = [], QgsRectangle()
    box.setMinimal()
    for feature in features:
        geometry = feature.geometry()
        if geometry.isEmpty():
            continue
        if transform is not None:
            try:
                geometry.transform(transform)
            except QgsCsException as err:
                raise PluginInputError(
                    f"the polygons of {polygon_layer.name()!r} cannot be brought to the CRS of "
                    f"{layer.name()!r} ({err}); draw the polygons in a Mars CRS"
                ) from err
        wkts.append(geometry.asWkt())
        box.combineExtentWith(geometry.boundingBox())
    part = box.intersect(layer.extent()) if wkts else QgsRectangle()
    if part.isEmpty():
        raise PluginInputError(
            f"the selected polygons of {polygon_layer.name()!r} do not overlap layer "
            f"{layer.name()!r}; select polygons over the raster"
        )
    return part, tuple(wkts)
