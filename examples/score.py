#!/usr/bin/env python3
"""Score images with a trained shiftad detector from Python, through libshiftad's C API
(include/shiftad/shiftad_c.h) and ctypes: no Python package of shiftad is needed, only
libshiftad.so (docs/deploy.md).

    python3 examples/score.py --lib /opt/shiftad/lib/libshiftad.so RUN_DIR a.png b.png
    python3 examples/score.py --lib ... --decode RUN_DIR a.png   # decode here, score pixels

Prints `path,score,normalised_score,anomalous` (the rows of `shiftad score`'s CSV, a path
quoted as there: RFC 4180) for every image scored: its score and the run's label-free
decision (empty fields for a run without a calibration). By default
the library reads the files (shiftad_score_files); with --decode, Pillow decodes them
here and the library scores the RGB pixels in memory (shiftad_score_images), as a
program holding camera frames would.
"""
import argparse
import ctypes
import ctypes.util
import math
import os
import sys


class Image(ctypes.Structure):
    """shiftad_image: RGB, 8 bits per channel, rows `stride` bytes apart (0: packed)."""
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("stride", ctypes.c_size_t),
                ("rgb", ctypes.POINTER(ctypes.c_ubyte))]


class Result(ctypes.Structure):
    """shiftad_result: score (higher = more anomalous), scored (0: unreadable file),
    normalised_score (share of the calibration normals at or below it), anomalous
    (1: score above the run's threshold). The layout must match shiftad_c.h."""
    _fields_ = [("score", ctypes.c_double), ("scored", ctypes.c_int), ("normalised_score", ctypes.c_double),
                ("anomalous", ctypes.c_int)]


class ShiftadError(RuntimeError):
    pass


class Detector:
    """A trained detector held by libshiftad (an opaque shiftad_detector handle)."""

    def __init__(self, lib_path, run_dir, threads=0):
        self._handle = None  # close() and __del__ run even when what follows fails
        try:
            self._lib = ctypes.CDLL(lib_path)
        except OSError as e:
            raise ShiftadError(f"cannot load the library '{lib_path}': {e}") from None
        try:
            self._declare(self._lib)
        except AttributeError as e:  # a library, but not libshiftad (or too old a one)
            raise ShiftadError(f"'{lib_path}' is not libshiftad: {e}") from None
        self._check(self._lib.shiftad_set_threads(threads))
        self._handle = self._lib.shiftad_load(os.fsencode(run_dir))
        if not self._handle:
            raise ShiftadError(self._error())

    @staticmethod
    def _declare(lib):
        lib.shiftad_version.restype = ctypes.c_char_p
        lib.shiftad_version.argtypes = []
        lib.shiftad_last_error.restype = ctypes.c_char_p
        lib.shiftad_last_error.argtypes = []
        lib.shiftad_set_threads.restype = ctypes.c_int
        lib.shiftad_set_threads.argtypes = [ctypes.c_int]
        lib.shiftad_load.restype = ctypes.c_void_p
        lib.shiftad_load.argtypes = [ctypes.c_char_p]
        lib.shiftad_free.restype = None
        lib.shiftad_free.argtypes = [ctypes.c_void_p]
        lib.shiftad_input_size.restype = ctypes.c_int
        lib.shiftad_input_size.argtypes = [ctypes.c_void_p]
        lib.shiftad_threshold.restype = ctypes.c_double
        lib.shiftad_threshold.argtypes = [ctypes.c_void_p]
        lib.shiftad_score_images.restype = ctypes.c_int
        lib.shiftad_score_images.argtypes = [ctypes.c_void_p, ctypes.POINTER(Image), ctypes.c_size_t,
                                             ctypes.POINTER(Result)]
        lib.shiftad_score_files.restype = ctypes.c_int
        lib.shiftad_score_files.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t,
                                            ctypes.POINTER(Result)]

    def _error(self):
        return self._lib.shiftad_last_error().decode("utf-8", "replace")

    def _check(self, status):
        if status != 0:  # SHIFTAD_OK
            raise ShiftadError(self._error())

    def version(self):
        return self._lib.shiftad_version().decode()

    def input_size(self):
        return self._lib.shiftad_input_size(self._handle)

    def threshold(self):
        """The run's label-free decision threshold: a score above it is anomalous (NaN
        when the run has none)."""
        value = self._lib.shiftad_threshold(self._handle)
        if math.isnan(value) and self._error():
            raise ShiftadError(self._error())
        return value

    def score_files(self, paths):
        """One Result per path, in order (its score, normalised_score and anomalous);
        None for a file that could not be read."""
        c_paths = (ctypes.c_char_p * len(paths))(*[os.fsencode(p) for p in paths])
        results = (Result * len(paths))()
        self._check(self._lib.shiftad_score_files(self._handle, c_paths, len(paths), results))
        return [r if r.scored else None for r in results]

    def score_pixels(self, images):
        """One score per (width, height, rgb) image, rows packed: rgb is bytes, or any
        buffer of width * height * 3 bytes (a NumPy array of shape (height, width, 3),
        uint8). The library reads exactly that many: a buffer of another size is refused
        here, as C could not know it (a short one was read past its end)."""
        buffers = []
        for i, (w, h, rgb) in enumerate(images):
            data = memoryview(rgb).cast("B") if memoryview(rgb).c_contiguous else memoryview(bytes(rgb))
            if w < 0 or h < 0 or data.nbytes != 3 * w * h:
                raise ShiftadError(f"image {i}: {data.nbytes} bytes of pixels for {w} x {h} RGB, which is "
                                   f"{max(0, 3 * w * h)} bytes; give packed 8-bit RGB rows (numpy: uint8, shape "
                                   f"(height, width, 3))")
            buffers.append((ctypes.c_ubyte * max(1, data.nbytes)).from_buffer_copy(data.tobytes() or b"\0"))
        views = (Image * len(images))(*[Image(w, h, 0, ctypes.cast(b, ctypes.POINTER(ctypes.c_ubyte)))
                                        for (w, h, _), b in zip(images, buffers)])
        results = (Result * len(images))()
        self._check(self._lib.shiftad_score_images(self._handle, views, len(images), results))
        return list(results)

    def close(self):
        if self._handle:
            self._lib.shiftad_free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


def _decode_again(path, rawmode):
    """The pixels of `path` decoded by Pillow with another raw mode of the same bits per
    pixel: a 16-bit PNG's low bytes (Pillow keeps only the high bytes of RGB;16B)."""
    import numpy as np
    from PIL import Image as PilImage
    with PilImage.open(path) as im:
        im.tile = [(t[0], t[1], t[2], rawmode) for t in im.tile]
        return np.asarray(im).astype(np.uint32)


def _png16(path, im):
    """A 16-bit PNG as the library reads it: its 16-bit samples, reduced to 8 bits by
    round(v / 257) (OpenCV's convertTo(CV_8U, 255 / 65535)), as 8-bit RGB; or None."""
    import numpy as np
    raw = im.tile[0][3] if im.format == "PNG" and len(im.tile) == 1 else ""
    if raw == "I;16B" or im.mode.startswith("I;16"):
        v = np.asarray(im).astype(np.uint32)  # gray: all 16 bits
    elif raw in ("RGB;16B", "RGBA;16B"):
        mode = raw[:-4]
        v = (_decode_again(path, mode + ";16B") << 8 | _decode_again(path, mode + ";16L"))[..., :3]
    elif raw == "LA;16B":  # Pillow's RGBA, high bytes: read as 8-bit RGBA, gray = R G
        b = _decode_again(path, "RGBA")
        v = b[..., 0] << 8 | b[..., 1]
    else:
        return None
    v = ((2 * v + 257) // 514).astype(np.uint8)  # round(v / 257): no ties
    return np.ascontiguousarray(np.repeat(v[..., None], 3, -1) if v.ndim == 2 else v)


def _cmyk(im):
    """A CMYK JPEG as the library reads it: OpenCV's integer CMYK -> RGB of libjpeg's raw
    samples (Pillow's convert("RGB") divides by 255 instead: up to 3 levels apart)."""
    import numpy as np
    inverted = im.tile[0][3][0] == "CMYK;I"  # Adobe's inverted CMYK, which Pillow inverts back
    cmyk = np.asarray(im).astype(np.int32)
    if inverted:
        cmyk = 255 - cmyk
    k = cmyk[..., 3:]
    return np.ascontiguousarray((k - ((255 - cmyk[..., :3]) * k >> 8)).astype(np.uint8))


def decode_rgb(path):
    """(width, height, RGB bytes) of an image file, decoded as `shiftad score` decodes it:
    grayscale replicated, alpha dropped, EXIF orientation ignored, 16-bit PNG reduced by
    round(v / 257) and CMYK JPEG converted as OpenCV does; so scoring these pixels gives
    the file's score. Pillow's plain convert("RGB") would clip 16-bit gray to 255."""
    import numpy as np  # only --decode needs numpy and Pillow
    from PIL import Image as PilImage
    with PilImage.open(path) as im:
        rgb = _png16(path, im)
        if rgb is None and im.mode == "CMYK" and im.format == "JPEG":
            rgb = _cmyk(im)
        if rgb is None:
            rgb = np.asarray(im.convert("RGB"))
        return rgb.shape[1], rgb.shape[0], rgb.tobytes()


def decode_or_none(path):
    """decode_rgb(path), or None (with the reason on stderr) for a file Pillow cannot read."""
    try:
        return decode_rgb(path)
    except (OSError, ValueError) as e:  # PIL.UnidentifiedImageError is an OSError
        print(f"cannot decode '{path}': {e}", file=sys.stderr)
        return None


def csv_field(value):
    """`value` as one CSV field, as `shiftad score` writes it (RFC 4180): in double quotes,
    its quotes doubled, when it holds a comma, a double quote, CR or LF."""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lib", default=os.environ.get("SHIFTAD_LIBRARY") or ctypes.util.find_library("shiftad"),
                        help="libshiftad.so (default: $SHIFTAD_LIBRARY, else the system's search path)")
    parser.add_argument("--decode", action="store_true", help="decode with Pillow here and score the pixels")
    parser.add_argument("run_dir")
    parser.add_argument("images", nargs="+")
    args = parser.parse_args()
    if not args.lib:
        parser.error("libshiftad.so not found: pass --lib PATH or set SHIFTAD_LIBRARY")
    try:
        with Detector(args.lib, args.run_dir) as detector:
            if args.decode:
                # An unreadable file is skipped, as the library skips it without --decode.
                decoded = {p: decode_or_none(p) for p in args.images}
                readable = [p for p in args.images if decoded[p] is not None]
                scored = dict(zip(readable, detector.score_pixels([decoded[p] for p in readable])))
                scores = [scored.get(p) for p in args.images]
            else:
                scores = detector.score_files(args.images)
    except ShiftadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("path,score,normalised_score,anomalous")
    for path, r in zip(args.images, scores):
        if r is None:
            print(f"skipped (unreadable): {path}", file=sys.stderr)
        elif math.isnan(r.normalised_score):  # a run without a calibration: no decision
            print(f"{csv_field(path)},{r.score:.9g},,")
        else:
            print(f"{csv_field(path)},{r.score:.9g},{r.normalised_score:.6f},{int(r.anomalous)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
