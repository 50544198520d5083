"""Oracle for image decoding: writes images in the formats a data set may hold
(grayscale, gray+alpha, palette with and without transparency, RGBA, 16-bit,
CMYK and grayscale JPEG) with PIL, and next to each the RGB pixels the loader must
produce (raw uint8 H x W x 3): PIL's convert("RGB"), i.e. torchvision's loader, except
for 16-bit, which is scaled to 8 bits (round(v / 257)) where PIL would clip.

Usage: data_image_formats.py OUT_DIR  -> prints JSON [{"image", "expected", "h", "w", "tol"}]
"""
import json
import sys

import numpy as np
from PIL import Image

out = sys.argv[1]
rng = np.random.default_rng(0)
H, W = 13, 17  # odd sizes catch stride and transposition mistakes
cases = []


def add(name, img, expected, tol=0, **save):
    path = f"{out}/{name}"
    img.save(path, **save)
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
gj = Image.fromarray(gray, "L")
gj.save(f"{out}/gray_ref.jpg", quality=95)
add("gray.jpg", gj, np.asarray(Image.open(f"{out}/gray_ref.jpg").convert("RGB")), tol=1, quality=95)
print(json.dumps(cases))
