import numpy as np
import pytest
import rasterio
from PIL import Image

from geocore.body import MARS
from geocore.cli import main
from geocore.errors import CRSError, GridError, OutputExistsError, RasterReadError, TileNameError
from geocore.projection import Equirectangular
from geocore.raster_io import georeference_themis, read_grid


def make_png(path, size=(96, 96), seed=0):
    rng = np.random.default_rng(seed)
    data = rng.integers(1, 255, size=size[::-1], dtype=np.uint8)
    data[10:12, :] = 0  # a missing-data streak
    Image.fromarray(data).save(path)
    return data


def test_georeference_downsampled_tile(tmp_path):
    src = tmp_path / "thm_dir_N-30_090.png"
    data = make_png(src, (120, 120))
    out = tmp_path / "tile.tif"
    fractions = []
    grid = georeference_themis(src, out, block_rows=50, progress=fractions.append)
    assert fractions == pytest.approx([50 / 120, 100 / 120, 1.0])
    with rasterio.open(out) as ds:
        assert (ds.width, ds.height) == (120, 120)
        assert np.array_equal(ds.read(1), data)
        assert ds.nodata == 0
        assert ds.transform.a == pytest.approx(MARS.metres_per_degree / 4)  # 30 deg / 120 px
    back = read_grid(out)
    assert isinstance(back.projection, Equirectangular)
    assert back.pixel_to_lonlat(0, 0, offset="corner") == pytest.approx((90.0, 0.0))
    assert back.pixel_to_lonlat(120, 120, offset="corner") == pytest.approx((120.0, -30.0))
    assert back.transform == pytest.approx(grid.transform)


def test_georef_refuses_overwrite_and_unknown_tile(tmp_path):
    src = tmp_path / "thm_dir_N00_300.png"
    make_png(src, (60, 60))
    out = tmp_path / "t.tif"
    out.write_text("keep")
    with pytest.raises(OutputExistsError, match="already exists"):
        georeference_themis(src, out)
    assert out.read_text() == "keep"
    other = tmp_path / "image.png"
    make_png(other, (60, 60))
    with pytest.raises(TileNameError, match=r"cannot tell the THEMIS tile of 'image\.png'"):
        georeference_themis(other, tmp_path / "x.tif")
    georeference_themis(other, tmp_path / "x.tif", tile="thm_dir_N00_300")
    assert read_grid(tmp_path / "x.tif").pixel_to_lonlat(0, 0, offset="corner") == pytest.approx(
        (-60.0, 30.0)
    )


def test_non_square_tile_image_refused(tmp_path):
    src = tmp_path / "thm_dir_N00_030.png"
    make_png(src, (80, 60))
    with pytest.raises(GridError, match="is 80 x 60 px"):
        georeference_themis(src, tmp_path / "x.tif")


def test_read_grid_sources(tmp_path):
    named = tmp_path / "thm_dir_N00_030.png"
    make_png(named, (768, 768))
    grid = read_grid(named)
    assert grid.resolution_m == pytest.approx(MARS.metres_per_degree / 25.6)
    plain = tmp_path / "crater0.jpg"
    Image.fromarray(np.full((416, 416), 100, np.uint8)).save(plain)
    with pytest.raises(CRSError, match="has no georeferencing; give its resolution in m/px"):
        read_grid(plain)
    grid = read_grid(plain, resolution_m=100.0)
    assert (grid.width, grid.resolution_m, grid.is_georeferenced) == (416, 100.0, False)


def test_read_grid_refuses_earth_crs(tmp_path):
    path = tmp_path / "earth.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=4,
        height=4,
        count=1,
        dtype="uint8",
        crs="EPSG:4326",
        transform=rasterio.Affine(0.1, 0, 0, 0, -0.1, 0),
    ) as ds:
        ds.write(np.zeros((1, 4, 4), np.uint8))
    with pytest.raises(CRSError, match="'WGS 84' is not a Mars CRS"):
        read_grid(path)


def test_unreadable_rasters(tmp_path):
    with pytest.raises(RasterReadError, match="does not exist"):
        read_grid(tmp_path / "nope.tif")
    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    with pytest.raises(RasterReadError, match=r"cannot read .* as a raster"):
        read_grid(text)
    with pytest.raises(RasterReadError, match="is a folder"):
        read_grid(tmp_path)


def test_cli_georef(tmp_path, capsys):
    src = tmp_path / "thm_dir_N-30_090.png"
    make_png(src, (64, 64))
    out = tmp_path / "tile.tif"
    assert main(["georef", str(src), "--out", str(out)]) == 0
    assert "64 x 64 px" in capsys.readouterr().out
    assert main(["georef", str(src), "--out", str(out)]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert main(["georef", str(src), "--out", str(out), "--overwrite", "--no-nodata"]) == 0
    with rasterio.open(out) as ds:
        assert ds.nodata is None
