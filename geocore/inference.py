"""Run an ONNX crater model over an image of any size, window by window.

:class:`OnnxCraterModel` holds an onnxruntime session and the model's
:class:`~geocore.model_info.ModelInfo`; :meth:`OnnxCraterModel.predict` turns
a 2-D array of raw pixels into a probability map of the same size:

1. Nodata: pixels flagged by ``nodata_mask``, equal to the model's
   ``missing_value`` (0 for THEMIS) or not finite are replaced by the mean of
   the valid pixels of this call (as :func:`geocore.themis.fill_missing` did in
   training), then the pixels are scaled with
   :meth:`~geocore.model_info.ModelInfo.scale_input`. This is done window by
   window, so no scaled copy of the whole image is ever made.
2. Windows of ``window_px`` (default :data:`DEFAULT_WINDOW_PX`, or the
   model's tile size if larger) overlapping by ``overlap_px`` (default: a
   quarter of the window, :data:`DEFAULT_OVERLAP_PX` for the default window)
   cover the image,
   reflected beyond its bottom and right edges up to a multiple of the
   model's ``size_multiple_px``; see :mod:`geocore.tiling`.
3. Windows go through onnxruntime ``batch_size`` at a time; of each window
   only the central part is kept (centre-crop stitching, no blending), so
   that the stitched map equals a whole-image run away from the image's edges
   when half the overlap covers the network's receptive field (for the
   paper's UNet it does not: its receptive field reaches 509 px at 3x3; see
   :data:`DEFAULT_WINDOW_PX` for what the defaults achieve).
4. Probabilities are set to 0 on nodata pixels. Windows whose kept part is
   all nodata are not run.

Memory beyond the image and the float32 output: one batch of windows in and
out (``batch_size x window_px^2 x 8`` bytes), plus onnxruntime's activations
(about 0.45 GB per 1024 x 1024 window of the default network as
``training.export`` writes it; see ``docs/inference.md``).

``progress(done, total)`` is called after every batch and ``cancel()`` before
every batch; when it returns True, :class:`~geocore.errors.CancelledError` is
raised and no output is returned. One 1024 x 1024 window takes 0.15-0.4 s on
two CPU cores, so a cancel takes effect within a second.

Execution providers: :func:`default_providers`. onnxruntime is imported only
inside functions (this module runs inside QGIS's Python).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from .errors import CancelledError, ModelError
from .model_info import ModelInfo, model_info_from_session
from .tiling import Window, WindowLayout

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_OVERLAP_PX",
    "DEFAULT_WINDOW_PX",
    "OnnxCraterModel",
    "default_overlap_px",
    "default_providers",
    "default_window_px",
]

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
#: Window side when none is given (or the model's tile size, if larger).
#: Why 1024 and not the 512 px tiles the network is trained on: the paper's
#: UNet has a receptive field of 509 px (3x3; 1273 px at 7x7), far beyond any
#: affordable overlap, and the error of a window comes mostly from its deepest
#: levels, where a 512 px window is 4 x 4 pixels wide, all of them next to the
#: zero padding. At the same work (x1.78 pixels through the network), 1024 /
#: 256 windows cut the largest seam deviation from a whole-image run 5-100x
#: against 512 / 128 (trained S-1: 2.1e-2 -> 3.9e-3; S-4: 5.2e-2 -> 4.0e-4;
#: docs/inference.md), for 4x the activation memory (0.45 GB per window with
#: the fast graph).
DEFAULT_WINDOW_PX = 1024
#: Overlap of neighbouring windows for the default window: a quarter of it, so
#: each window keeps its output 128 px or more inside its edges.
DEFAULT_OVERLAP_PX = 256
#: Windows per onnxruntime call when none is given, by provider: on the CPU
#: larger batches are no faster (measured: 1, 2 and 4 within noise, 8 slower)
#: and cost 0.2 GB each; a GPU wants several windows per call.
DEFAULT_BATCH_SIZE: Mapping[str, int] = MappingProxyType({CPU: 1, CUDA: 4})

_GPU_HINT = (
    "install the GPU build instead of the CPU one: pip uninstall onnxruntime && "
    "pip install onnxruntime-gpu (the two packages cannot be installed together), "
    "or use providers='cpu'"
)


def default_window_px(tile_size_px: int, multiple_px: int = 128) -> int:
    """The window side used when none is given.

    :data:`DEFAULT_WINDOW_PX` or the model's tile size, whichever is larger,
    rounded up to a multiple of ``multiple_px``.

    Examples
    --------
    >>> default_window_px(512), default_window_px(2048), default_window_px(64, 12)
    (1024, 2048, 1032)
    """
    window = max(DEFAULT_WINDOW_PX, tile_size_px)
    return -(-window // multiple_px) * multiple_px


def default_overlap_px(window_px: int, multiple_px: int = 128) -> int:
    """The overlap used when none is given: a quarter of the window.

    Rounded down to a multiple of ``multiple_px``, but at least one multiple
    when the window is larger than that (0 for a window of one multiple).

    Examples
    --------
    >>> [default_overlap_px(w) for w in (128, 256, 512, 1024, 2048)]
    [0, 128, 128, 256, 512]
    """
    if window_px <= multiple_px:
        return 0
    return max(multiple_px, window_px // 4 // multiple_px * multiple_px)


def default_providers(preference: str | Sequence[str] = "auto") -> list[str]:
    """The onnxruntime execution providers to ask for, best first.

    Parameters
    ----------
    preference : {"auto", "cpu", "cuda"} or list of str
        ``"auto"``: CUDA when onnxruntime-gpu is installed (the CUDA provider
        is available), then the CPU; onnxruntime itself falls back to the CPU
        when no GPU or CUDA library is found. ``"cpu"``: the CPU only.
        ``"cuda"``: CUDA then CPU, and an error if the CUDA provider is not
        available. A list: those provider names, as given.

    Returns
    -------
    list of str
        Provider names for ``onnxruntime.InferenceSession``.

    Raises
    ------
    ModelError
        onnxruntime is missing, ``"cuda"`` without onnxruntime-gpu, or an
        unknown or unavailable provider name.
    """
    available = _onnxruntime().get_available_providers()
    if isinstance(preference, str):
        choice = preference.lower()
        if choice == "auto":
            return [CUDA, CPU] if CUDA in available else [CPU]
        if choice == "cpu":
            return [CPU]
        if choice == "cuda":
            if CUDA not in available:
                raise ModelError(
                    f"providers='cuda': this onnxruntime has no {CUDA} (available: "
                    f"{', '.join(available)}); {_GPU_HINT}"
                )
            return [CUDA, CPU]
        raise ModelError(
            f"providers={preference!r}: expected 'auto', 'cpu', 'cuda' or a list of "
            f"onnxruntime provider names such as {[CPU]}"
        )
    names = list(preference)
    bad = [name for name in names if not isinstance(name, str) or name not in available]
    if not names or bad:
        hint = f"; for CUDA, {_GPU_HINT}" if CUDA in names else ""
        raise ModelError(
            f"providers={names!r}: {bad or 'empty list'} not available in this onnxruntime "
            f"(available: {', '.join(available)}){hint}"
        )
    return names


class OnnxCraterModel:
    """A crater segmentation model in an onnxruntime session, with its contract.

    Parameters
    ----------
    session : onnxruntime.InferenceSession
        An open session of the model.
    info : ModelInfo
        The model's contract (:func:`~geocore.model_info.model_info_from_session`).
    source : str
        Name of the model in messages (its file).

    Attributes
    ----------
    session : onnxruntime.InferenceSession
    info : ModelInfo
    source : str
    """

    def __init__(self, session: Any, info: ModelInfo, *, source: str = "model") -> None:
        self.session = session
        self.info = info
        self.source = source
        # scale_input without the fill: predict fills nodata itself (mask + missing value)
        self._scaling = info.replace(missing_value=None)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        *,
        providers: str | Sequence[str] = "auto",
        threads: int | None = None,
        **info_overrides: Any,
    ) -> OnnxCraterModel:
        """Open an ONNX crater model.

        Parameters
        ----------
        path : str or path-like
            The ``.onnx`` file (``python -m training.export`` writes them).
        providers : {"auto", "cpu", "cuda"} or list of str
            Execution providers, see :func:`default_providers`.
        threads : int, optional
            onnxruntime intra-op threads; default: onnxruntime's (one per
            physical core).
        **info_overrides
            :class:`~geocore.model_info.ModelInfo` fields replacing those in
            the file's metadata; a model without crater metadata needs at
            least ``resolution_m`` and ``target_kind``.

        Returns
        -------
        OnnxCraterModel

        Raises
        ------
        ModelError
            Missing file, not an ONNX model, an input or output that is not
            ``(N, H, W, 1)`` float, missing or invalid metadata, unavailable
            providers (``"cuda"`` without onnxruntime-gpu, or CUDA failing to
            start), or a bad ``threads``.
        """
        path = Path(path)
        if not path.is_file():
            where = "is a folder" if path.is_dir() else "does not exist"
            raise ModelError(f"model file {str(path)!r} {where}; give the path of an .onnx file")
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
        ):
            raise ModelError(f"threads={threads!r}: must be a whole number >= 1, or None")
        ort = _onnxruntime()
        wanted = default_providers(providers)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        if threads is not None:
            options.intra_op_num_threads = threads
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=wanted)
        except Exception as err:  # onnxruntime raises its own, unexported exception types
            raise ModelError(
                f"{str(path)!r} is not a readable ONNX model ({type(err).__name__}: "
                f"{str(err).strip()[:300]}); export one with `python -m training.export`"
            ) from err
        actual = session.get_providers()
        if CUDA in wanted and CUDA not in actual:
            if isinstance(providers, str) and providers.lower() == "auto":
                log.warning("CUDA could not start for %s; running on the CPU", path)
            else:
                raise ModelError(
                    f"{str(path)!r}: onnxruntime could not start {CUDA} (no GPU, or CUDA / cuDNN "
                    "libraries missing or of the wrong version); check `nvidia-smi` and the "
                    "onnxruntime-gpu install, or use providers='cpu'"
                )
        info = model_info_from_session(session, source=str(path), **info_overrides)
        log.info("loaded %s on %s", path, ", ".join(actual))
        return cls(session, info, source=str(path))

    @property
    def providers(self) -> list[str]:
        """The execution providers onnxruntime actually uses, best first."""
        return list(self.session.get_providers())

    def __repr__(self) -> str:
        return f"OnnxCraterModel({self.source!r}, providers={self.providers})"

    # ------------------------------------------------------------ prediction
    def predict(
        self,
        image: np.ndarray,
        *,
        nodata_mask: np.ndarray | None = None,
        window_px: int | None = None,
        overlap_px: int | None = None,
        batch_size: int | None = None,
        max_value: float | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """Crater probabilities of a 2-D image, computed window by window.

        Parameters
        ----------
        image : numpy.ndarray
            Raw pixels (height, width), integer or float, at the model's
            resolution; not modified.
        nodata_mask : numpy.ndarray of bool, optional
            True where the image has no data (besides pixels equal to the
            model's ``missing_value`` and non-finite ones).
        window_px : int, optional
            Window side, a multiple of the model's ``size_multiple_px``;
            default :func:`default_window_px` (1024, or the model's
            ``tile_size_px`` if larger).
        overlap_px : int, optional
            Overlap of neighbouring windows, a multiple of ``size_multiple_px``
            smaller than ``window_px``; default :func:`default_overlap_px`,
            a quarter of the window (256 for 1024; 0 when the window is the
            size multiple itself).
        batch_size : int, optional
            Windows per onnxruntime call; default :data:`DEFAULT_BATCH_SIZE`
            for the provider in use (1 on the CPU, 4 on CUDA).
        max_value : float, optional
            Pixel value mapped to the top of the input range: default 255 for
            8-bit and float images (floats are taken to be resampled 8-bit
            data), the dtype's maximum for other integers (65535 for 16-bit).
        progress : callable, optional
            ``progress(done_windows, total_windows)``, called after each batch
            (once with ``(0, 0)`` when no window needs running).
        cancel : callable, optional
            ``cancel() -> bool``, checked before each batch.

        Returns
        -------
        numpy.ndarray
            float32 probabilities (height, width); 0 on nodata pixels.

        Raises
        ------
        ModelError
            Not a 2-D numeric image, a mask of another shape, a bad window,
            overlap or batch size, or onnxruntime failing on a batch.
        CancelledError
            ``cancel()`` returned True.
        """
        image = _check_image(image)
        mask = _check_mask(nodata_mask, image.shape)
        info = self.info
        multiple = info.size_multiple_px
        window = default_window_px(info.tile_size_px, multiple) if window_px is None else window_px
        if overlap_px is None:
            try:
                overlap_px = default_overlap_px(int(window), multiple)
            except (TypeError, ValueError):  # not a number: the layout says what is wrong
                overlap_px = 0
        if batch_size is None:
            batch_size = DEFAULT_BATCH_SIZE.get(self.providers[0], 1)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ModelError(f"batch_size={batch_size!r}: must be a whole number >= 1, e.g. 4")
        layout = WindowLayout.plan(
            *image.shape,
            window_px=window,
            overlap_px=overlap_px,
            multiple_px=info.size_multiple_px,
        )
        max_value = _default_max_value(image.dtype) if max_value is None else max_value
        numeric = isinstance(max_value, int | float | np.integer | np.floating)
        if not (numeric and np.isfinite(max_value) and max_value > 0):
            raise ModelError(
                f"max_value={max_value!r}: must be a positive pixel value, e.g. 255 for 8-bit"
            )
        fill_value, todo = self._survey(image, mask, layout)
        out = np.zeros(image.shape, dtype=np.float32)
        if not todo and progress is not None:
            progress(0, 0)
        batch = np.empty(
            (min(batch_size, len(todo)), layout.window_height_px, layout.window_width_px, 1),
            dtype=np.float32,
        )
        for first in range(0, len(todo), batch_size):
            if cancel is not None and cancel():
                raise CancelledError(
                    f"prediction cancelled after {first} of {len(todo)} windows; no output"
                )
            chunk = todo[first : first + batch_size]
            for i, win in enumerate(chunk):
                batch[i, :, :, 0] = self._window_input(
                    image, mask, layout, win, fill_value, max_value
                )
            result = self._run(batch[: len(chunk)])
            for i, win in enumerate(chunk):
                keep = win.keep_slices()
                nodata = _nodata(image[keep], None if mask is None else mask[keep], info)
                kept = result[i, :, :, 0][win.keep_in_window()]
                out[keep] = np.where(nodata, np.float32(0), kept)
            if progress is not None:
                progress(first + len(chunk), len(todo))
        return out

    def _survey(
        self, image: np.ndarray, mask: np.ndarray | None, layout: WindowLayout
    ) -> tuple[float, list[Window]]:
        """Mean of the valid pixels, and the windows whose kept part has any.

        The kept parts tile the image once, so this is one pass over it, a
        window at a time.
        """
        total, count, todo = 0.0, 0, []
        for win in layout:
            keep = win.keep_slices()
            valid = ~_nodata(image[keep], None if mask is None else mask[keep], self.info)
            n = int(np.count_nonzero(valid))
            if n:
                total += float(image[keep][valid].sum(dtype=np.float64))
                count += n
                todo.append(win)
        if not todo:
            log.info("%s: every pixel is nodata; nothing to predict", self.source)
        # all nodata: fill_missing's convention (zeros); the output is 0 there anyway
        return (total / count if count else 0.0), todo

    def _window_input(
        self,
        image: np.ndarray,
        mask: np.ndarray | None,
        layout: WindowLayout,
        win: Window,
        fill_value: float,
        max_value: float,
    ) -> np.ndarray:
        """One window of network input: nodata filled, then scaled."""
        raw = layout.read(image, win)
        nodata = _nodata(raw, None if mask is None else layout.read(mask, win), self.info)
        pixels = raw.astype(np.float64 if raw.dtype == np.float64 else np.float32)
        if nodata.any():
            pixels[nodata] = fill_value
        return self._scaling.scale_input(pixels, max_value)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        info = self.info
        try:
            result = self.session.run([info.output_name], {info.input_name: batch})[0]
        except Exception as err:  # onnxruntime raises its own, unexported exception types
            raise ModelError(
                f"{self.source!r}: onnxruntime failed on a batch of shape {batch.shape} "
                f"({type(err).__name__}: {str(err).strip()[:300]}); try a smaller batch_size "
                "or window_px"
            ) from err
        if result.shape != batch.shape:
            raise ModelError(
                f"{self.source!r} returned shape {result.shape} for input {batch.shape}; a "
                "crater model must return one probability per input pixel"
            )
        return result


# ---------------------------------------------------------------- helpers
def _onnxruntime():
    try:
        import onnxruntime
    except ImportError as err:
        raise ModelError(
            "running a model needs onnxruntime: pip install onnxruntime (or onnxruntime-gpu "
            "for NVIDIA GPUs, never both)"
        ) from err
    return onnxruntime


def _nodata(pixels: np.ndarray, mask: np.ndarray | None, info: ModelInfo) -> np.ndarray:
    """True where ``pixels`` have no data: masked, the missing value, or not finite."""
    nodata = np.zeros(pixels.shape, dtype=bool) if mask is None else mask.copy()
    if info.missing_value is not None:
        nodata |= pixels == info.missing_value
    if np.issubdtype(pixels.dtype, np.floating):
        nodata |= ~np.isfinite(pixels)
    return nodata


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2 or image.size == 0:
        raise ModelError(
            f"image of shape {image.shape}: expected one non-empty 2-D band (height, width)"
        )
    if image.dtype == bool or not (
        np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)
    ):
        raise ModelError(f"image of dtype {image.dtype}: expected integer or float pixels")
    return image


def _check_mask(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ModelError(
            f"nodata_mask of shape {mask.shape} does not match the image {shape}; give one "
            "boolean per pixel (True = no data)"
        )
    return mask.astype(bool, copy=False)


def _default_max_value(dtype: np.dtype) -> float:
    if np.issubdtype(dtype, np.integer) and dtype != np.uint8:
        return float(np.iinfo(dtype).max)
    return 255.0
