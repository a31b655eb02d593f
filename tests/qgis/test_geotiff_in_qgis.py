"""GeoTIFFs written by geocore (georef, demo) open in QGIS 3.22 with a valid Mars CRS."""

import pytest

pytestmark = pytest.mark.qgis


def test_demo_scene_and_craters_line_up_in_qgis(qgis_app, tmp_path, run_geocore):
    from qgis.core import QgsRasterLayer, QgsVectorLayer

    out = tmp_path / "demo"
    run_geocore("demo", "--out", out, "--downsample", "16", "--craters", "30")
    raster = QgsRasterLayer(str(out / "scene.tif"), "scene")
    craters = QgsVectorLayer(f"{out / 'craters.gpkg'}|layername=craters", "craters", "ogr")
    try:
        assert raster.isValid() and craters.isValid()
        crs = raster.crs()
        assert crs.isValid(), crs.toWkt()
        assert "+proj=eqc" in crs.toProj() and "+R=3396190" in crs.toProj()
        assert craters.crs().isValid()
        assert "+R=3396190" in craters.crs().toProj()
        ext = raster.extent()
        # the tile thm_dir_N-30_090 spans lon 90..120, lat -30..0: 1 degree = 59,274.7 m
        assert ext.xMinimum() == pytest.approx(90 * 59274.70, rel=1e-6)
        assert ext.yMinimum() == pytest.approx(-30 * 59274.70, rel=1e-6)
        assert craters.featureCount() > 0
        cext = craters.extent()
        assert 89.5 <= cext.xMinimum() and cext.xMaximum() <= 120.5  # rims may cross the edge
        assert -30.5 <= cext.yMinimum() and cext.yMaximum() <= 0.5
    finally:
        del raster, craters
