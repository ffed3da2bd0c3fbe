"""The model's native kernels (``native/kernels.c``), loaded with ctypes: pre-processing, the
featurizer and the classifier's products in C, the same bits as the numpy code (the tests
compare the two on every image and input they have), in about half the server's CPU per image.

``scripts/build-kernels.sh`` builds ``native/_kernels.so`` (the server image builds it in its
builder stage). The library is used only when it was built from the ``kernels.c`` beside it
(its SHA-256 is compiled in) with this module's ABI; otherwise, or with
``FPGASCORE_NATIVE_KERNELS=0``, the server runs the numpy code and :func:`status` says why.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import pathlib
import threading
from typing import Any, List, Optional, Tuple

import numpy as np

NATIVE_DIR = pathlib.Path(__file__).resolve().parent / "native"
SOURCE = NATIVE_DIR / "kernels.c"
LIBRARY = NATIVE_DIR / "_kernels.so"
ABI = 1
DISABLE_VARIABLE = "FPGASCORE_NATIVE_KERNELS"
BUILD_HINT = "build them with scripts/build-kernels.sh"
_OK = 0  # the functions' result when they computed; 1: declined (the numpy code then)

_F32 = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
_F64 = np.ctypeslib.ndpointer(np.float64, flags="C_CONTIGUOUS")
_I64 = np.ctypeslib.ndpointer(np.int64, flags="C_CONTIGUOUS")
_I16 = np.ctypeslib.ndpointer(np.int16, flags="C_CONTIGUOUS")
_I8 = np.ctypeslib.ndpointer(np.int8, flags="C_CONTIGUOUS")
_U8 = np.ctypeslib.ndpointer(np.uint8, flags="C_CONTIGUOUS")


class _OptionalInt64Array:
    """An int64 array argument that may be None (a NULL pointer)."""

    @classmethod
    def from_param(cls, value: Any) -> Any:
        return None if value is None else _I64.from_param(value)


class Kernels:
    """The loaded library's functions, typed; one workspace per calling thread."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self._preprocess = library.fs_preprocess
        self._preprocess.restype = ctypes.c_int
        preprocess_arguments: List[Any] = [_U8, ctypes.c_int64, _I64, _I64, _F64, _F64, _OptionalInt64Array,
                                           ctypes.c_int64, ctypes.c_int64, _I64, _I64, _F64, _F64, _F32, _F32]
        self._preprocess.argtypes = preprocess_arguments
        self._featurize = library.fs_featurize
        self._featurize.restype = ctypes.c_int
        self._featurize.argtypes = [_F32, _I16, _I16, _I16, _F32, _U8]
        self._classify = library.fs_classify
        self._classify.restype = ctypes.c_int
        self._classify.argtypes = [_F32, ctypes.c_int64, _I8, _I64, ctypes.c_int, _F64]
        self._variant = library.fs_variant
        self._variant.restype = ctypes.c_char_p
        self._use_variant = library.fs_use_variant
        self._use_variant.restype = ctypes.c_int
        self._use_variant.argtypes = [ctypes.c_char_p]
        workspace_bytes = library.fs_featurize_workspace_bytes
        workspace_bytes.restype = ctypes.c_int64
        self._workspace_bytes = int(workspace_bytes())
        self._local = threading.local()

    def preprocess(self, rgb: np.ndarray[Any, Any], plan: Any, means_row: np.ndarray[Any, Any],
                   out: np.ndarray[Any, Any]) -> bool:
        """``preprocess.preprocess`` of uint8 RGB [H, W, 3] (C-contiguous) into ``out``, with the
        plan's taps (``preprocess._Plan``); False where the kernel declines (too many values
        read per row: the numpy code then)."""
        code = self._preprocess(rgb, rgb.shape[1], plan.rows0, plan.rows1, plan.row_keep, plan.row_take,
                                plan.read_values, plan.read_first, plan.read_count, plan.left, plan.right,
                                plan.column_keep, plan.column_take, means_row, out)
        return bool(code == _OK)

    def featurize(self, image: np.ndarray[Any, Any], w1: np.ndarray[Any, Any], w2: np.ndarray[Any, Any],
                  w3: np.ndarray[Any, Any]) -> Optional[np.ndarray[Any, Any]]:
        """The featurizer's [2048] features of a float32 [224, 224, 3] image, the layers' weights
        as :func:`weight_pairs`; None where the numpy float32 path declines too (exponents
        outside its safe range)."""
        features = np.empty(w3.shape[1], dtype=np.float32)
        code = self._featurize(image, w1, w2, w3, features, self._workspace())
        return features if code == _OK else None

    def exponentials(self, features: np.ndarray[Any, Any], weights_t: np.ndarray[Any, Any],
                     column_sums: np.ndarray[Any, Any], logit_exponent: int) -> Optional[np.ndarray[Any, Any]]:
        """Each row's exp(logit - its largest logit), [N, 1000] float64; None for features
        near float64's limits (the numpy path then)."""
        exps = np.empty((features.shape[0], weights_t.shape[0]), dtype=np.float64)
        code = self._classify(features, features.shape[0], weights_t, column_sums, logit_exponent, exps)
        return exps if code == _OK else None

    def variant(self) -> str:
        """The integer product kernel in use: "avx512vnni", "avx2" or "portable"."""
        return str(self._variant().decode("ascii"))

    def use_variant(self, name: str) -> bool:
        """Uses the named product kernel from now on (all threads); False where this CPU or
        build has none of that name. The variants give the same bits (tests run each)."""
        return int(self._use_variant(name.encode("ascii"))) == 0

    def _workspace(self) -> np.ndarray[Any, Any]:
        workspace: Optional[np.ndarray[Any, Any]] = getattr(self._local, "workspace", None)
        if workspace is None:
            workspace = self._local.workspace = np.empty(self._workspace_bytes, dtype=np.uint8)
        return workspace


def weight_pairs(weights: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A [k, n] integer weight matrix as the product kernels read it: int16 [k / 2, n, 2], the
    two weights of rows 2i and 2i + 1 side by side for each column."""
    k, n = weights.shape
    pairs: np.ndarray[Any, Any] = np.ascontiguousarray(
        weights.reshape(k // 2, 2, n).transpose(0, 2, 1), dtype=np.int16)
    return pairs


def source_digest(path: pathlib.Path = SOURCE) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_from(library_path: pathlib.Path, source: pathlib.Path) -> "Tuple[Optional[Kernels], str]":
    """The kernels of a library built from ``source``, and "native (variant)"; or None and
    "numpy (why not)"."""
    if not library_path.is_file():
        return None, f"numpy (the native kernels are not built: {BUILD_HINT})"
    try:
        library = ctypes.CDLL(str(library_path))
        library.fs_abi.restype = ctypes.c_int
        library.fs_source_digest.restype = ctypes.c_char_p
        abi, built_from = int(library.fs_abi()), library.fs_source_digest().decode("ascii", "replace")
    except (OSError, AttributeError) as error:
        return None, f"numpy (the native kernels do not load: {type(error).__name__}: {str(error)[:200]}; {BUILD_HINT})"
    if abi != ABI:
        return None, f"numpy (the native kernels have ABI {abi}, this code needs {ABI}: {BUILD_HINT})"
    if not source.is_file() or built_from != source_digest(source):
        return None, f"numpy (the native kernels were built from another kernels.c: {BUILD_HINT})"
    kernels = Kernels(library)
    return kernels, f"native ({kernels.variant()})"


@functools.lru_cache(maxsize=1)
def _loaded() -> "Tuple[Optional[Kernels], str]":
    if os.environ.get(DISABLE_VARIABLE, "1") == "0":
        return None, f"numpy (native kernels turned off by {DISABLE_VARIABLE}=0)"
    return load_from(LIBRARY, SOURCE)


# A model stage's ``kernels=`` default: the loaded kernels, if any (None picks numpy).
LOADED: Any = object()


def chosen(kernels: Any) -> Optional[Kernels]:
    """``kernels`` itself, or the loaded ones for :data:`LOADED`."""
    return load() if kernels is LOADED else kernels


def load() -> Optional[Kernels]:
    """The kernels, or None where the numpy code runs instead (:func:`status` says why)."""
    return _loaded()[0]


def status() -> str:
    """Which code computes the model: "native (its product kernel)", or "numpy (why)"."""
    return _loaded()[1]
