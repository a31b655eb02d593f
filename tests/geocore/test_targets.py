import math

import numpy as np
import pytest
from PIL import Image

from geocore.body import MARS
from geocore.cli import main
from geocore.crater import CraterCatalog
from geocore.errors import CraterValueError, GridError
from geocore.grid import PixelGrid
from geocore.projection import Equirectangular
from geocore.targets import (
    TargetSpec,
    TargetSpecError,
    craters_on_grid,
    rasterize_targets,
)

RES_M = 1000.0  # metres per pixel of the small test grids


def grid_around(lon_deg, lat_deg, width=120, height=80, res_m=RES_M):
    """An equirectangular grid of ``res_m`` pixels whose centre is at (lon, lat)."""
    proj = Equirectangular(MARS)
    x, y = proj.forward(lon_deg, lat_deg)
    x0, y0 = float(x) - width / 2 * res_m, float(y) + height / 2 * res_m
    return PixelGrid((res_m, 0.0, x0, 0.0, -res_m, y0), width, height, proj)


def catalog(lons, lats, diameters_km):
    return CraterCatalog(np.asarray(lons, float), np.asarray(lats, float), diameters_km)


def extent(mask):
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1


# ------------------------------------------------------------------ geometry
@pytest.mark.parametrize("lat_deg", [0.0, 60.0])
def test_filled_crater_is_an_ellipse_of_the_right_area(lat_deg):
    radius_px = 20.0  # 40 km at 1 km/px
    mask = rasterize_targets(grid_around(30.0, lat_deg), catalog([30.0], [lat_deg], [40.0]))
    a_px, b_px = radius_px / math.cos(math.radians(lat_deg)), radius_px
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}
    assert mask.sum() == pytest.approx(math.pi * a_px * b_px, rel=0.03)
    width_px, height_px = extent(mask)
    assert width_px / height_px == pytest.approx(a_px / b_px, rel=0.06)
    assert height_px == pytest.approx(2 * radius_px, abs=1)


def test_large_crater_is_wider_on_its_poleward_side():
    # 800 km crater at 50 N: its true outline in an equirectangular grid is egg-shaped, widest
    # at lat asin(sin 50 / cos rho) = 50.47 N, 5.6 px north of its centre (row 300)
    grid = grid_around(0.0, 50.0, width=1200, height=600, res_m=5000.0)
    mask = rasterize_targets(grid, catalog([0.0], [50.0], [800.0])).astype(bool)
    widths = mask.sum(axis=1)
    widest_rows = np.flatnonzero(widths == widths.max())
    assert 300 - widest_rows.mean() == pytest.approx(5.6, abs=1.5)
    assert widths[300 - 60] > widths[300 + 60] + 10


def test_outline_hole_is_inner_ratio_of_the_radius():
    grid = grid_around(10.0, 0.0, 80, 80)
    cat = catalog([10.0], [0.0], [60.0])  # radius 30 px
    filled = rasterize_targets(grid, cat)
    outline = rasterize_targets(grid, cat, kind="outline", inner_ratio=0.7)
    hole = filled.sum() - outline.sum()
    assert hole == pytest.approx(math.pi * 21.0**2, rel=0.03)
    column = outline[:, 40]  # along the meridian through the centre
    assert column[40] == 0 and column[40 - 19] == 0 and column[40 - 23] == 1
    half = TargetSpec("outline", inner_ratio=0.5).rasterize(grid, cat)
    assert filled.sum() - half.sum() == pytest.approx(math.pi * 15.0**2, rel=0.03)


@pytest.mark.parametrize("width_px", [4, 8])
@pytest.mark.parametrize("lat_deg", [0.0, 60.0])
def test_ring_width_is_measured_along_a_meridian(width_px, lat_deg):
    grid = grid_around(10.0, lat_deg, 200, 100)
    mask = rasterize_targets(
        grid, catalog([10.0], [lat_deg], [60.0]), "ring", ring_width_px=width_px
    )
    column = mask[:, 100]  # the centre column
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, column, 0])))[::2]
    assert runs.tolist() == [width_px, width_px]
    # centred on the rim: the ring reaches width/2 beyond the radius (30 px)
    top = np.flatnonzero(column)[0]
    assert 50 - top == pytest.approx(30 + width_px / 2, abs=1)
    # ring area = filled(r + w/2) - filled(r - w/2) = 4 pi r w/2 ... / cos(lat)
    expected = math.pi * ((30 + width_px / 2) ** 2 - (30 - width_px / 2) ** 2)
    assert mask.sum() == pytest.approx(expected / math.cos(math.radians(lat_deg)), rel=0.04)


def test_ring_smaller_than_its_width_is_a_disk():
    grid = grid_around(10.0, 0.0, 40, 40)
    mask = rasterize_targets(grid, catalog([10.0], [0.0], [6.0]), "ring", ring_width_px=8)
    assert mask[20, 20] == 1
    assert mask.sum() == pytest.approx(math.pi * 7.0**2, rel=0.1)  # radius 3 + 4 px


# ----------------------------------------------------------- painter's order
def test_small_crater_on_a_large_rim_keeps_its_hole():
    grid = grid_around(0.0, 0.0, 100, 100)
    # large: radius 40 px (outline band 28..40 px); small: radius 6 px, 34 px east
    lon_small = math.degrees(34_000.0 / MARS.radius_m)
    cat = catalog([0.0, lon_small], [0.0, 0.0], [80.0, 12.0])
    mask = rasterize_targets(grid, cat, "outline")
    col_small = 50 + 34
    assert mask[50, col_small] == 0  # small crater's own hole, inside the large one's band
    assert mask[50, col_small - 5] == 1  # small crater's outline
    assert mask[50, 50 - 34] == 1  # large crater's band, away from the small crater
    assert mask[50, 50] == 0  # large crater's hole
    # input order does not matter
    reversed_mask = rasterize_targets(grid, cat[::-1], "outline")
    assert np.array_equal(mask, reversed_mask)


@pytest.mark.parametrize("kind", ["filled", "outline", "ring"])
def test_result_does_not_depend_on_catalogue_order(kind):
    rng = np.random.default_rng(1)
    n = 60
    lons, lats = rng.uniform(-1.5, 1.5, n), rng.uniform(-1, 1, n)
    diameters = rng.choice([4.0, 8.0, 12.0, 20.0, 40.0], n)  # many equal diameters
    cat = catalog(lons, lats, diameters)
    grid = grid_around(0.0, 0.0, 180, 120)
    mask = rasterize_targets(grid, cat, kind, ring_width_px=3)
    shuffled = rasterize_targets(grid, cat[rng.permutation(n)], kind, ring_width_px=3)
    assert np.array_equal(mask, shuffled)
    assert 0 < mask.mean() < 1


def test_input_catalogue_is_not_modified():
    cat = catalog([0.5, -0.3], [0.2, 0.1], [20.0, 5.0])
    before = {name: col.copy() for name, col in cat.columns.items()}
    rasterize_targets(grid_around(0.0, 0.0), cat, "ring", min_diameter_km=2)
    for name, col in cat.columns.items():
        assert np.array_equal(col, before[name])


def test_diameter_range_is_inclusive_and_about_diameters():
    grid = grid_around(0.0, 0.0, 120, 80)
    cat = catalog([-0.5, 0.5], [0.0, 0.0], [4.0, 30.0])
    only_small = rasterize_targets(grid, cat, min_diameter_km=4, max_diameter_km=4)
    assert only_small.sum() == pytest.approx(math.pi * 2.0**2, abs=6)
    none = rasterize_targets(grid, cat, min_diameter_km=31)
    assert none.sum() == 0


# ------------------------------------------------------- edges of the grid
def test_crater_partly_outside_is_drawn_in_part():
    grid = grid_around(0.0, 0.0, 100, 100)
    lon_edge, _ = grid.pixel_to_lonlat(-0.5, 50)  # the western edge of the grid
    mask = rasterize_targets(grid, catalog([lon_edge], [0.0], [40.0]))
    assert mask.sum() == pytest.approx(math.pi * 20.0**2 / 2, rel=0.05)
    assert mask[:, :20].any() and not mask[:, 21:].any()
    outside = rasterize_targets(grid, catalog([lon_edge - 1.0], [0.0], [40.0]))
    assert outside.sum() == 0
    assert craters_on_grid(
        grid, catalog([lon_edge, lon_edge - 1.0], [0, 0], [40, 40])
    ).tolist() == [
        True,
        False,
    ]


def test_crater_across_the_antimeridian():
    grid = grid_around(180.0, 0.0, 200, 100)  # spans about 178.3 E .. 181.7 E (-178.3)
    east = rasterize_targets(grid, catalog([179.9], [0.0], [40.0]))
    west = rasterize_targets(grid, catalog([-179.9], [0.0], [40.0]))
    assert east.sum() == pytest.approx(math.pi * 20.0**2, rel=0.03)
    assert west.sum() == east.sum()
    # the two craters are 0.2 degrees apart, across the antimeridian
    cols = np.arange(200)
    shift_px = (west.sum(axis=0) @ cols - east.sum(axis=0) @ cols) / east.sum()
    assert shift_px == pytest.approx(0.2 * MARS.metres_per_degree / RES_M, abs=0.5)
    same = rasterize_targets(grid, catalog([180.1], [0.0], [40.0]))  # 0..360 convention
    assert np.array_equal(same, west)


def test_crater_on_the_edge_of_a_global_grid_wraps_around():
    res_m = MARS.metres_per_degree / 2  # 0.5 degree pixels, 720 x 360
    x0, _ = Equirectangular(MARS).forward(-180.0, 0.0)
    y0 = 90.0 * MARS.metres_per_degree
    grid = PixelGrid((res_m, 0.0, float(x0), 0.0, -res_m, y0), 720, 360, Equirectangular(MARS))
    radius_px = 5.0
    diameter_km = 2 * radius_px * res_m / 1000.0
    mask = rasterize_targets(grid, catalog([179.5], [0.0], [diameter_km]))
    assert mask[:, :10].any() and mask[:, -10:].any()  # drawn on both edges
    assert mask.sum() == pytest.approx(math.pi * radius_px**2, rel=0.1)


def test_rotated_grid_gives_the_same_area():
    lat = 30.0
    res_m = RES_M
    proj = Equirectangular(MARS)
    x, y = proj.forward(0.0, lat)
    angle = math.radians(30.0)
    a, b = res_m * math.cos(angle), -res_m * math.sin(angle)
    d, e = -res_m * math.sin(angle), -res_m * math.cos(angle)
    # centre pixel (50, 50) at the crater
    c, f = float(x) - a * 50.5 - b * 50.5, float(y) - d * 50.5 - e * 50.5
    grid = PixelGrid((a, b, c, d, e, f), 101, 101, proj)
    mask = rasterize_targets(grid, catalog([0.0], [lat], [40.0]))
    expected = math.pi * 20.0**2 / math.cos(math.radians(lat))
    assert mask.sum() == pytest.approx(expected, rel=0.03)
    assert mask[50, 50] == 1


# ---------------------------------------------------------- pixel-only grids
def test_pixel_only_grid_draws_circles_from_pixel_columns():
    grid = PixelGrid.from_resolution(64, 48, 100.0)
    nan = [math.nan, math.nan]
    cat = CraterCatalog(nan, nan, [2.0, 1.0], x_px=[20.0, 50.0], y_px=[24.0, 10.0])
    mask = rasterize_targets(grid, cat)  # diameters from km: 20 px and 10 px
    left = mask[:, :35]
    assert left.sum() == pytest.approx(math.pi * 10.0**2, rel=0.05)
    assert extent(left) == (21, 21)
    with_px = cat.replace(diameter_px=[30.0, math.nan])  # diameter_px wins where given
    assert rasterize_targets(grid, with_px)[:, :36].sum() == pytest.approx(
        math.pi * 15.0**2, rel=0.05
    )
    corner = rasterize_targets(
        grid, cat.replace(x_px=[20.5, 50.5], y_px=[24.5, 10.5]), offset="corner"
    )
    assert np.array_equal(corner, mask)


def test_pixel_only_ring_and_outline_sizes_are_in_pixels():
    grid = PixelGrid.from_resolution(64, 64, 50.0)
    cat = CraterCatalog([math.nan], [math.nan], [3.0], x_px=[32.0], y_px=[32.0])  # r = 30 px
    ring = rasterize_targets(grid, cat, "ring", ring_width_px=2)
    assert ring[32, 0:4].tolist() == [0, 1, 1, 0]  # 29 < distance <= 31 px
    assert ring.sum() == pytest.approx(math.pi * (31**2 - 29**2), rel=0.05)


def test_grid_and_catalogue_must_agree_on_coordinates():
    nan = [math.nan]
    pixel_cat = CraterCatalog(nan, nan, [2.0], x_px=[5.0], y_px=[5.0])
    with pytest.raises(GridError, match="1 craters have no longitude/latitude"):
        rasterize_targets(grid_around(0.0, 0.0), pixel_cat)
    with pytest.raises(GridError, match="no x_px/y_px columns"):
        rasterize_targets(PixelGrid.from_resolution(10, 10, 100.0), catalog([0.0], [0.0], [2.0]))


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "disk"}, "unknown target kind 'disk'; expected one of"),
        ({"kind": "outline", "inner_ratio": 1.0}, r"inner_ratio must be within \(0, 1\).*got 1.0"),
        ({"inner_ratio": 0}, r"inner_ratio must be within \(0, 1\)"),
        ({"inner_ratio": -0.2}, r"inner_ratio must be within \(0, 1\)"),
        ({"kind": "ring", "ring_width_px": -4}, "ring_width_px must be a positive number.*-4"),
        ({"ring_width_px": 0}, "ring_width_px must be a positive number"),
        ({"ring_width_px": math.nan}, "ring_width_px must be a positive number"),
        ({"offset": "middle"}, "offset must be 'center' or 'corner', got 'middle'"),
    ],
)
def test_bad_parameters_are_refused(kwargs, match):
    with pytest.raises(TargetSpecError, match=match):
        rasterize_targets(grid_around(0, 0), catalog([0.0], [0.0], [4.0]), **kwargs)


def test_bad_spec_and_diameter_range():
    with pytest.raises(TargetSpecError, match="unknown target kind 'rings'"):
        TargetSpec("rings")
    assert isinstance(TargetSpecError("x"), ValueError)
    with pytest.raises(CraterValueError, match="min diameter 10 km is above max diameter 5 km"):
        rasterize_targets(grid_around(0, 0), catalog([0.0], [0.0], [4.0]), min_diameter_km=10,
                          max_diameter_km=5)  # fmt: skip


def test_spec_is_a_frozen_value():
    spec = TargetSpec("ring", ring_width_px=8)
    assert spec == TargetSpec("ring", 0.7, 8.0)
    with pytest.raises(AttributeError):
        spec.kind = "filled"


def test_empty_catalogue_and_dtype():
    grid = grid_around(0.0, 0.0, 30, 20)
    out = rasterize_targets(grid, CraterCatalog.empty(), dtype=np.float32)
    assert out.shape == (20, 30) and out.dtype == np.float32 and not out.any()
    as_bool = rasterize_targets(grid, catalog([0.0], [0.0], [10.0]), dtype=bool)
    assert as_bool.dtype == bool and as_bool.any()


# ---------------------------------------------------------------- real data
DELATTE_TILE = "thm_dir_N-30_090"
DELATTE_MASK = "thm_dir_N-30_090_-30_0_90_120_2_32_km_segrng.png"
ROBBINS_CSV = "CSV_Tile_03_-30_0_90_120_px.csv"


@pytest.mark.realdata
def test_filled_target_matches_the_seed_authors_mask(shared_data):
    from geocore.catalog import read_catalog

    cat = read_catalog(shared_data / "robbins2012_pm30" / ROBBINS_CSV)
    # their "2-32 km" are radii drawn with RAD_PX = ceil(radius in px): diameters 3.71-63.9 km
    ours = rasterize_targets(
        PixelGrid.from_themis_tile(DELATTE_TILE), cat, min_diameter_km=3.71, max_diameter_km=63.9
    ).astype(bool)
    theirs = np.asarray(Image.open(shared_data / "delatte_targets" / DELATTE_MASK)) > 0
    iou = np.count_nonzero(ours & theirs) / np.count_nonzero(ours | theirs)
    assert iou > 0.93  # measured 0.950 (docs/targets.md)


# ---------------------------------------------------------------------- CLI
def write_catalog_csv(path):
    path.write_text("lon,lat,diameter_km\n100.0,-10.0,200\n105.0,-20.0,120\n300.0,10.0,50\n")
    return path


def test_cli_writes_a_png_on_a_raster_grid(tmp_path, capsys):
    like = tmp_path / "thm_dir_N-30_090.png"  # a downsampled tile image: 240 px, 8 px/degree
    Image.fromarray(np.zeros((240, 240), np.uint8)).save(like)
    cat = write_catalog_csv(tmp_path / "craters.csv")
    out = tmp_path / "target.png"
    argv = ["targets", "--like", str(like), "--catalog", str(cat), "--kind", "outline",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    image = Image.open(out)
    assert image.size == (240, 240) and image.mode == "L"
    values = np.asarray(image)
    assert set(np.unique(values)) == {0, 255}
    printed = capsys.readouterr().out
    assert "drew 2 craters (outline) on 240 x 240 px" in printed
    assert str(out) in printed
    # no overwrite without --overwrite
    assert main(argv) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*argv, "--overwrite", "--kind", "filled"]) == 0
    assert np.count_nonzero(np.asarray(Image.open(out))) > np.count_nonzero(values)


def test_cli_tile_grid_is_full_size(tmp_path):
    cat = write_catalog_csv(tmp_path / "craters.csv")
    out = tmp_path / "ring.png"
    argv = ["targets", "--tile", "thm_dir_N-30_090", "--catalog", str(cat), "--kind", "ring",
            "--ring-width-px", "8", "--max-diameter-km", "150", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert Image.open(out).size == (7680, 7680)


@pytest.mark.parametrize(
    ("extra", "out_name", "message"),
    [
        (["--inner-ratio", "1.5"], "t.png", "inner_ratio must be within"),
        (["--ring-width-px", "-8"], "t.png", "ring_width_px must be a positive number"),
        (["--min-diameter-km", "10", "--max-diameter-km", "2"], "t.png", "min diameter 10 km"),
        ([], "t.tif", "targets are written as PNG; give a name ending in .png"),
        (["--resolution-m", "100"], "t.png", "--resolution-m goes with --like"),
        (["--catalog", "missing.csv"], "t.png", "does not exist"),
    ],
)
def test_cli_refuses_bad_input(tmp_path, capsys, extra, out_name, message):
    cat = write_catalog_csv(tmp_path / "craters.csv")
    out = tmp_path / out_name
    argv = ["targets", "--tile", "thm_dir_N-30_090", "--catalog", str(cat), "--out", str(out)]
    assert main([*argv, *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_cli_plain_image_with_pixel_catalogue(tmp_path, capsys):
    like = tmp_path / "image.png"  # no georeferencing: --resolution-m gives the pixel size
    Image.fromarray(np.zeros((48, 64), np.uint8)).save(like)
    cat = tmp_path / "boxes.csv"
    cat.write_text("x_px,y_px,diameter_km\n20,24,2.0\n")  # 20 px across at 100 m/px
    out = tmp_path / "t.png"
    argv = ["targets", "--like", str(like), "--resolution-m", "100", "--catalog", str(cat),
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    mask = np.asarray(Image.open(out)) > 0
    assert mask.shape == (48, 64)
    assert mask.sum() == pytest.approx(math.pi * 10.0**2, rel=0.05)
    assert "drew 1 crater (filled) on 64 x 48 px" in capsys.readouterr().out
