"""YOLO crater label files of plain (un-georeferenced) images.

One line per crater, ``class xc yc w h [confidence]``, all normalised to the
image, as in the THEMIS Day IR 100 m/px label set. Craters get pixel
coordinates only (pixel-centre convention of :mod:`geocore.grid`) and a
diameter in km from the image's resolution. numpy and the standard library only;
Pillow is imported by :func:`read_yolo_folder` to read image sizes.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .catalog import require_path
from .crater import CraterCatalog
from .errors import CatalogFormatError, CraterValueError, GridError, RasterReadError

__all__ = ["IMAGE_SUFFIXES", "read_yolo_folder", "read_yolo_labels"]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")


def _image_size(image_size_px) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in image_size_px)
        ok = width > 0 and height > 0 and (width, height) == tuple(image_size_px)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise GridError(
            f"image_size_px must be (width, height) in whole pixels, got {image_size_px!r}"
        )
    return width, height


def read_yolo_labels(
    path: str | os.PathLike,
    image_size_px: tuple[int, int],
    resolution_m: float,
    source: str | None = None,
    edge_boxes: str = "circle",
) -> CraterCatalog:
    r"""Read a YOLO box file (``class xc yc w h [confidence]`` per line, normalised to the image).

    Craters get pixel coordinates only (longitude/latitude are NaN): ``x_px =
    xc * width - 0.5`` (pixel-centre convention), ``diameter_px`` is the mean of
    the box width and height in pixels, ``diameter_km = diameter_px *
    resolution_m / 1000``. The class is ignored; a sixth number is read as the
    confidence. An empty file is an image without craters.

    Boxes of craters cut by the image edge are clipped to the image (in the
    THEMIS set, 14 % of the boxes touch an edge): their mean side and centre
    are not the crater's. With ``edge_boxes="circle"`` (default) a box that
    reaches an edge (within one pixel) is completed to the circle it was cut
    from: the diameter is the side along the other axis (the larger side when
    both axes are cut, a lower bound) and the centre moves away from the edge so
    that the box's inner side stays. ``edge_boxes="box"`` keeps the boxes as
    written.

    Parameters
    ----------
    path : str or os.PathLike
        The label ``.txt`` file.
    image_size_px : (int, int)
        Width and height of the image the labels belong to.
    resolution_m : float
        Pixel size in metres (100 for the THEMIS 100 m/px tiles).
    source : str, optional
        Value of the ``source`` column; default the file's stem.
    edge_boxes : {"circle", "box"}
        How boxes clipped by the image edge are read (see above).

    Returns
    -------
    CraterCatalog

    Raises
    ------
    CatalogFormatError
        A line that is not 5 or 6 numbers, or a box outside the image (by more
        than half a pixel); file and line are named.
    CraterValueError
        A box of zero or negative size.
    GridError
        ``image_size_px`` or ``resolution_m`` is not valid.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "crater0.txt"
    >>> _ = path.write_text("0 0.5 0.25 0.1 0.1\n")
    >>> cat = read_yolo_labels(path, (416, 416), resolution_m=100)
    >>> float(cat.x_px[0]), float(cat.y_px[0]), round(float(cat.diameter_km[0]), 2)
    (207.5, 103.5, 4.16)

    A 60 px crater cut by the left edge, 20 px of it inside:

    >>> _ = path.write_text("0 0.024038 0.5 0.048077 0.144231\n")
    >>> cat = read_yolo_labels(path, (416, 416), resolution_m=100)
    >>> round(float(cat.x_px[0]), 1), round(float(cat.diameter_px[0]), 1)
    (-10.5, 60.0)
    """
    if edge_boxes not in ("circle", "box"):
        raise CatalogFormatError(f"edge_boxes={edge_boxes!r}: use 'circle' or 'box'")
    width, height = _image_size(image_size_px)
    try:
        resolution_ok = math.isfinite(float(resolution_m)) and float(resolution_m) > 0
    except (TypeError, ValueError):
        resolution_ok = False
    if not resolution_ok:
        raise GridError(
            f"resolution_m must be a positive number of metres per pixel, got {resolution_m!r}"
        )
    path = require_path(path)
    rows, lines = [], []
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            fields = line.split()
            if not fields:
                continue
            try:
                numbers = [float(v) for v in fields]
            except ValueError:
                numbers = []
            if not (len(numbers) in (5, 6) and numbers[0].is_integer()
                    and all(math.isfinite(v) for v in numbers)):  # fmt: skip
                raise CatalogFormatError(
                    f"{str(path)!r}, line {line_no}: {line.strip()!r} is not a YOLO box; "
                    "expected 'class xc yc w h' (optionally a confidence), 5 or 6 numbers"
                )
            rows.append(numbers[1:] + [math.nan] * (6 - len(numbers)))
            lines.append(line_no)
    box = np.array(rows, dtype=float).reshape(-1, 5)
    xc, yc, w, h, confidence = box.T
    bad = ~((w > 0) & (h > 0))
    if np.any(bad):
        i = int(np.argmax(bad))
        raise CraterValueError(
            f"{str(path)!r}, line {lines[i]}: box size {w[i]} x {h[i]} is not positive; "
            "fix or remove that line"
        )
    # Boxes must stay inside [0, 1] (half a pixel of rounding allowed).
    tol_x, tol_y = 0.5 / width, 0.5 / height
    outside = ((xc - w / 2 < -tol_x) | (xc + w / 2 > 1 + tol_x)
               | (yc - h / 2 < -tol_y) | (yc + h / 2 > 1 + tol_y))  # fmt: skip
    if np.any(outside):
        i = int(np.argmax(outside))
        raise CatalogFormatError(
            f"{str(path)!r}, line {lines[i]}: box (xc {xc[i]}, yc {yc[i]}, w {w[i]}, h {h[i]}) "
            f"reaches outside the {width} x {height} px image; YOLO boxes are normalised to "
            "[0, 1]: check the image size and that the file is normalised"
        )
    x_px, y_px, diameter_px = xc * width, yc * height, (w * width + h * height) / 2.0
    if edge_boxes == "circle":
        x_px, y_px, diameter_px = _complete_cut_circles(
            xc * width, yc * height, w * width, h * height, width, height
        )
    nan = np.full(len(xc), math.nan)
    return CraterCatalog(
        lon_deg=nan,
        lat_deg=nan,
        diameter_km=diameter_px * resolution_m / 1000.0,
        x_px=x_px - 0.5,
        y_px=y_px - 0.5,
        diameter_px=diameter_px,
        confidence=None if np.all(np.isnan(confidence)) else confidence,
        source=np.full(len(xc), Path(path).stem if source is None else source, dtype=object),
    )


def _complete_cut_circles(xc, yc, w, h, width: int, height: int, tol_px: float = 1.0):
    """Centres (pixel edges convention) and diameters of circles whose boxes the image clips."""
    x0, x1, y0, y1 = xc - w / 2, xc + w / 2, yc - h / 2, yc + h / 2
    left, right = x0 <= tol_px, x1 >= width - tol_px
    top, bottom = y0 <= tol_px, y1 >= height - tol_px
    cut_x, cut_y = left | right, top | bottom
    diameter = np.where(
        cut_x & cut_y, np.maximum(w, h), np.where(cut_x, h, np.where(cut_y, w, (w + h) / 2))
    )
    diameter = np.maximum(diameter, np.where(cut_x | cut_y, np.maximum(w, h), 0.0))
    x = np.where(left & ~right, x1 - diameter / 2, np.where(right & ~left, x0 + diameter / 2, xc))
    y = np.where(top & ~bottom, y1 - diameter / 2, np.where(bottom & ~top, y0 + diameter / 2, yc))
    return x, y, diameter


def read_yolo_folder(
    labels_dir: str | os.PathLike,
    images_dir: str | os.PathLike,
    resolution_m: float,
    image_suffixes: Sequence[str] = IMAGE_SUFFIXES,
) -> CraterCatalog:
    """Read every YOLO label file of a folder, each sized by its image.

    The image of ``labels_dir/NAME.txt`` is ``images_dir/NAME.<suffix>`` (the
    suffixes of ``image_suffixes``, any case); its size is read with Pillow
    (header only). ``source`` is the image's file name. A file ``classes.txt``
    is skipped; images without a label file hold no craters.

    Parameters
    ----------
    labels_dir, images_dir : str or os.PathLike
        Folders of ``.txt`` label files and of images.
    resolution_m : float
        Pixel size in metres, the same for every image.
    image_suffixes : sequence of str
        Image file suffixes to look for.

    Returns
    -------
    CraterCatalog
        Pixel coordinates only, each relative to its own image.

    Raises
    ------
    CatalogFormatError
        A folder is missing or holds no label, a label file has no image (or
        several), or a label file is malformed.
    RasterReadError
        An image cannot be opened.
    """
    from PIL import Image, UnidentifiedImageError

    labels_dir, images_dir = Path(labels_dir), Path(images_dir)
    for folder in (labels_dir, images_dir):
        if not folder.is_dir():
            raise CatalogFormatError(f"{str(folder)!r} is not a folder; check the path")
    label_files = sorted(p for p in labels_dir.glob("*.txt") if p.name != "classes.txt")
    if not label_files:
        raise CatalogFormatError(f"no .txt label file in {str(labels_dir)!r}")
    suffixes = {s.lower() for s in image_suffixes}
    images: dict[str, list[Path]] = {}
    for p in images_dir.iterdir():
        if p.suffix.lower() in suffixes:
            images.setdefault(p.stem, []).append(p)
    parts = []
    for label in label_files:
        found = images.get(label.stem, [])
        if len(found) != 1:
            problem = "no image" if not found else f"several images {sorted(p.name for p in found)}"
            raise CatalogFormatError(
                f"label file {str(label)!r} has {problem} in {str(images_dir)!r} "
                f"(looked for {label.stem} with suffix {', '.join(sorted(suffixes))}); "
                "give the matching images folder or remove the label file"
            )
        try:
            with Image.open(found[0]) as image:
                size = image.size
        except (OSError, UnidentifiedImageError) as err:
            raise RasterReadError(f"cannot read image {str(found[0])!r}: {err}") from err
        parts.append(read_yolo_labels(label, size, resolution_m, source=found[0].name))
    catalog = CraterCatalog.concat(parts)
    log.info("read %d craters from %d label files in %s", len(catalog), len(parts), labels_dir)
    return catalog


# -------------------------------------------------------------- entry point
