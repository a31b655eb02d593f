import pyogrio
import rasterio

from geocore.cli import main


def test_demo_writes_every_output(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--downsample", "16", "--craters", "40", "--seed", "3"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "craters.csv",
        "craters.diam",
        "craters.gpkg",
        "overlay.png",
        "scene.tif",
        "target_outline.tif",
    ]
    n = pyogrio.read_info(out / "craters.gpkg", layer="craters")["features"]
    assert f"craters: {n} from 40 synthetic craters" in printed
    with rasterio.open(out / "scene.tif") as scene, rasterio.open(out / "target_outline.tif") as t:
        assert scene.shape == t.shape == (480, 480)
        assert scene.crs is not None and scene.transform == t.transform
        assert t.read(1).max() == 1
    assert "area = 3019622" in (out / "craters.diam").read_text()


def test_demo_refuses_a_non_empty_folder_without_overwrite(tmp_path, capsys):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert main(["demo", "--out", str(out), "--downsample", "16", "--craters", "5"]) == 2
    assert "is not empty; pass --overwrite" in capsys.readouterr().err
    assert (out / "mine.txt").read_text() == "keep"
