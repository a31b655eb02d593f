import struct
import zlib

import numpy as np
import pytest
import rasterio
from PIL import Image

from geocore.body import MARS
from geocore.cli import main
from geocore.errors import CRSError, GridError, OutputExistsError, RasterReadError, TileNameError
from geocore.projection import Equirectangular
from geocore.raster_io import (
    RasterioSource,
    check_windowed_reading,
    georeference_themis,
    open_raster,
    read_grid,
)


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


# ---------------------------------------------------------------- huge plain images
def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(path, width=60_000, height=60_000):
    """A 1-bit gray PNG whose header says ``width x height``: a few hundred bytes on disk.

    Only the first row's data follows the header: opening reads the header
    alone, so a reader that decodes pixels before refusing would fail loudly.
    """
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, gray
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed pixels
    data = _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(row)) + _chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + data)
    return path


def huge_jpeg(path, width=60_000, height=60_000):
    """A small JPEG whose frame header is patched to say ``width x height``."""
    Image.fromarray(np.full((16, 16), 90, np.uint8)).save(path, quality=90)
    data = bytearray(path.read_bytes())
    sof = data.index(b"\xff\xc0")  # baseline frame header: length, precision, height, width
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(("make", "driver"), [(huge_png, "PNG"), (huge_jpeg, "JPEG")])
def test_huge_plain_image_is_refused_before_any_pixel_is_read(tmp_path, make, driver):
    path = make(tmp_path / f"huge.{driver.lower()}")
    assert path.stat().st_size < 2000
    with open_raster(path) as ds:  # what GDAL sees: 3600 Mpx
        assert (ds.driver, ds.width, ds.height) == (driver, 60_000, 60_000)
    match = (
        rf"huge\.{driver.lower()} is a 60000 x 60000 px {driver} image \(3,600 Mpx\); .* "
        r"over 268 Mpx are not read\. Convert it to a tiled GeoTIFF .*gdal_translate -co "
        r"TILED=YES"
    )
    with pytest.raises(RasterReadError, match=match):
        RasterioSource(path, resolution_m=100.0)


@pytest.mark.parametrize("command", ["extract", "detect"])
def test_cli_refuses_a_huge_png_with_status_2(tmp_path, capsys, command):
    path = huge_png(tmp_path / "mosaic.png")
    argv = [command, str(path), "--resolution-m", "100", "--csv", str(tmp_path / "c.csv")]
    if command == "detect":  # refused before the model is looked at
        argv += ["--model", str(tmp_path / "no_such_model.onnx")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "mosaic.png is a 60000 x 60000 px PNG image (3,600 Mpx)" in err
    assert "gdal_translate -co TILED=YES" in err and "Traceback" not in err
    assert not (tmp_path / "c.csv").exists()


def test_windowed_reading_limit(tmp_path):
    path = tmp_path / "wide.png"
    Image.fromarray(np.full((40, 300), 50, np.uint8)).save(path)
    with open_raster(path) as ds:
        check_windowed_reading(ds, path.name, limit_px=12_000)  # exactly at the limit
        with pytest.raises(RasterReadError, match=r"wide\.png is a 300 x 40 px PNG image"):
            check_windowed_reading(ds, path.name, limit_px=11_999)
    source = RasterioSource(path, resolution_m=100.0)  # far below the default limit
    assert source.read(250, 30, 50, 10).shape == (10, 50)
    source.close()
    tif = tmp_path / "big.tif"  # GeoTIFFs are read window by window at any size
    grid = read_grid(path, resolution_m=100.0)
    profile = {"driver": "GTiff", "width": 300, "height": 40, "count": 1, "dtype": "uint8"}
    profile.update(crs="EPSG:4326", transform=rasterio.Affine(*grid.transform))
    with rasterio.open(tif, "w", **profile) as ds:
        ds.write(np.ones((1, 40, 300), np.uint8))
    with open_raster(tif) as ds:
        check_windowed_reading(ds, tif.name, limit_px=1)
