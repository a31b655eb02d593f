"""GeoTIFFs written by geocore (georef, demo) open in QGIS 3.22 with a valid Mars CRS."""

import pytest

pytestmark = pytest.mark.qgis


def test_demo_scene_and_craters_line_up_in_qgis(qgis_app, tmp_path, run_geocore, tiny_model_path):
    from qgis.core import QgsRasterLayer, QgsVectorLayer

    out = tmp_path / "demo"
    run_geocore("demo", "--out", out, "--size-px", "256", "--craters", "30",
                "--model", tiny_model_path)  # fmt: skip
    raster = QgsRasterLayer(str(out / "scene.tif"), "scene")
    craters = QgsVectorLayer(f"{out / 'truth.gpkg'}|layername=craters", "craters", "ogr")
    try:
        assert raster.isValid() and craters.isValid()
        crs = raster.crs()
        assert crs.isValid(), crs.toWkt()
        assert "+proj=eqc" in crs.toProj() and "+R=3396190" in crs.toProj()
        assert craters.crs().isValid()
        assert "+R=3396190" in craters.crs().toProj()
        ext = raster.extent()
        # the middle 256 px (1 degree) of tile thm_dir_N-30_090 (lon 90..120, lat -30..0):
        # lon 104.5..105.5, lat -15.5..-14.5; 1 degree = 59,274.7 m
        assert ext.xMinimum() == pytest.approx(104.5 * 59274.70, rel=1e-6)
        assert ext.yMinimum() == pytest.approx(-15.5 * 59274.70, rel=1e-6)
        assert craters.featureCount() == 30
        cext = craters.extent()  # rims may cross the scene's edge
        assert 103.5 <= cext.xMinimum() and cext.xMaximum() <= 106.5
        assert -16.5 <= cext.yMinimum() and cext.yMaximum() <= -13.5
    finally:
        del raster, craters
