"""Oracle for image decoding: writes images in the formats a data set may hold
(grayscale, gray+alpha, palette with and without transparency, RGBA, 16-bit,
CMYK and grayscale JPEG, a progressive JPEG and one carrying an EXIF thumbnail) with PIL, and next to each the RGB pixels the loader must
produce (raw uint8 H x W x 3): PIL's convert("RGB"), i.e. torchvision's loader, except
for 16-bit, which is scaled to 8 bits (round(v / 257)) where PIL would clip.

Usage: data_image_formats.py OUT_DIR  -> prints JSON [{"image", "expected", "h", "w", "tol"}]
"""
import io
import json
import struct
import sys

import numpy as np
from PIL import Image

out = sys.argv[1]
rng = np.random.default_rng(0)
H, W = 13, 17  # odd sizes catch stride and transposition mistakes
cases = []


def add(name, img, expected, tol=0, **save):
    """img None: the file is written already; expected None: PIL's convert("RGB") of it."""
    path = f"{out}/{name}"
    if img is not None:
        img.save(path, **save)
    if expected is None:
        expected = np.asarray(Image.open(path).convert("RGB"))
    exp = f"{out}/{name}.rgb"
    np.ascontiguousarray(expected, dtype=np.uint8).tofile(exp)
    cases.append({"image": path, "expected": exp, "h": H, "w": W, "tol": tol})


rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
gray = rng.integers(0, 256, (H, W), dtype=np.uint8)
alpha = rng.integers(0, 256, (H, W), dtype=np.uint8)

add("gray.png", Image.fromarray(gray, "L"), np.stack([gray] * 3, -1))
la = Image.fromarray(np.stack([gray, alpha], -1), "LA")
add("gray_alpha.png", la, np.asarray(la.convert("RGB")))
rgba = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
add("rgba.png", rgba, np.asarray(rgba.convert("RGB")))
pal = Image.fromarray(rgb, "RGB").quantize(colors=37, method=Image.Quantize.MEDIANCUT)
add("palette.png", pal, np.asarray(pal.convert("RGB")))
pal_t = pal.copy()
pal_t.info["transparency"] = 3  # palette index 3 is transparent (a tRNS chunk)
add("palette_trns.png", pal_t, np.asarray(pal.convert("RGB")), transparency=3)
g16 = rng.integers(0, 65536, (H, W), dtype=np.uint16)
add("gray16.png", Image.fromarray(g16, "I;16"), np.stack([np.round(g16 / 257.0)] * 3, -1))
# JPEG: the same libjpeg decodes on both sides, but OpenCV's CMYK->RGB is an 8-bit
# shift approximation of PIL's division by 255, hence the tolerances.
smooth = np.clip(rgb.astype(int) // 4 + 100, 0, 255).astype(np.uint8)
cmyk = Image.fromarray(smooth, "RGB").convert("CMYK")
cmyk.save(f"{out}/cmyk_ref.jpg", quality=95)
add("cmyk.jpg", cmyk, np.asarray(Image.open(f"{out}/cmyk_ref.jpg").convert("RGB")), tol=3, quality=95)
# A CMYK JPEG carrying EXIF orientation 6 (rotate 90): PIL's loader does not turn it,
# nor must the loader (OpenCV's IMREAD_COLOR would).
exif = Image.Exif()
exif[0x0112] = 6
cmyk.save(f"{out}/cmyk_orient6_ref.jpg", quality=95, exif=exif.tobytes())
add("cmyk_orient6.jpg", cmyk, np.asarray(Image.open(f"{out}/cmyk_orient6_ref.jpg").convert("RGB")), tol=3, quality=95,
    exif=exif.tobytes())
gj = Image.fromarray(gray, "L")
gj.save(f"{out}/gray_ref.jpg", quality=95)
add("gray.jpg", gj, np.asarray(Image.open(f"{out}/gray_ref.jpg").convert("RGB")), tol=0, quality=95)
add("progressive.jpg", Image.fromarray(smooth, "RGB"), None, quality=95, progressive=True)
# A camera's JPEG: an EXIF thumbnail in APP1 is a whole JPEG of its own (SOI, SOS ...
# EOI) before the main image's segments; a cut copy must not pass by the thumbnail's
# end marker.
main_jpeg, thumb = io.BytesIO(), io.BytesIO()
Image.fromarray(rgb, "RGB").save(main_jpeg, "JPEG", quality=95, subsampling=0)
Image.fromarray(smooth, "RGB").resize((8, 8)).save(thumb, "JPEG")
exif = b"Exif\x00\x00" + b"\x00" * 8 + thumb.getvalue()
j = main_jpeg.getvalue()
with open(f"{out}/exif_thumb.jpg", "wb") as f:
    f.write(j[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + j[2:])
add("exif_thumb.jpg", None, None)
print(json.dumps(cases))
