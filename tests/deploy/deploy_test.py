#!/usr/bin/env python3
"""libshiftad as a program outside this tree uses it (docs/deploy.md), checked against the
`shiftad score` command, an independent path to the same scores.

Installs the build into a temporary prefix (`cmake --install`), checks what was installed
(headers, the library's SONAME and exported symbols, the CMake package), configures and
builds examples/downstream against that prefix with find_package(shiftad) (and its C program
with pkg-config against a moved copy of the prefix), checks the installed `shiftad` finds the
suites installed beside it, trains a tiny
detector on the synthetic benchmark with the CLI, and scores the same images (one of them
a corrupt file; 16-bit gray and RGB PNGs and a CMYK JPEG, which Pillow decodes unlike the
library unless told; a name with a comma and a quote) with the CLI, the downstream C++ program, the downstream C program and
examples/score.py (ctypes; reading files, and scoring pixels decoded by Pillow).

    deploy_test.py SOURCE_DIR BUILD_DIR SHIFTAD_CLI LIBSHIFTAD VERSION
"""
import csv
import importlib.util
import io
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

INSTALLED_HEADERS = ["shiftad.h", "Detector.h", "Config.h", "ClusteringParams.h", "RunFiles.h", "Error.h",
                     "shiftad_c.h"]
# Names the library's own layers and the libraries compiled into it: none may be exported.
PRIVATE_SYMBOLS = re.compile(r"shiftad::(api|common|config|data|evaluation|io|models|clustering|losses|method|"
                             r"training|lab|csv)::|\bfmt::|\bspdlog::|\bnlohmann::|\bYAML::|\bcv::|\bat::|\bc10::|"
                             r"\btorch::")
PUBLIC_SYMBOLS = ["shiftad_load", "shiftad_score_images", "shiftad_score_files", "shiftad_last_error",
                  "shiftad_version", "shiftad::Detector::load(", "shiftad::Detector::score(", "shiftad::train(",
                  "shiftad::loadConfig(", "typeinfo for shiftad::Error"]

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what)


def run(cmd, expect=0, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if expect is not None and p.returncode != expect:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {p.returncode} (expected {expect})\n{p.stdout}\n{p.stderr}")
    return p


def read_csv_scores(text):
    """path -> (score, normalised_score, anomalous) of the examples' and `shiftad score`'s
    `path,score,normalised_score,anomalous` (the last two as written), read as RFC 4180
    (Python's csv module): a path with a comma or a quote is one field only when quoted."""
    rows = list(csv.reader(io.StringIO(text)))
    header = ["path", "score", "normalised_score", "anomalous"]
    assert rows and rows[0] == header, f"not a scores CSV: {rows[:2]}"
    check(all(len(r) == len(header) for r in rows), f"every row has {len(header)} fields: {rows}")
    return {r[0]: (float(r[1]), r[2], r[3]) for r in rows[1:]}


def compare(name, got, expected):
    """The same images, scores within float rounding, and the same decision to the digit."""
    check(set(got) == set(expected), f"{name}: scored {sorted(set(got) ^ set(expected))} differently from the CLI")
    for path in set(got) & set(expected):
        (a, *decision_a), (b, *decision_b) = got[path], expected[path]
        check(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9), f"{name}: {path} scores {a}, the CLI {b}")
        check(decision_a == decision_b, f"{name}: {path} normalised score, anomalous {decision_a}, the CLI {decision_b}")


def declared_functions(include_dir):
    """The free functions the installed headers declare, as nm -C spells their start:
    "shiftad::NAME" (C++) and "NAME" (the C API). Read from the headers themselves, so
    that a function added there and not to exports.map is caught; a declaration starts
    in column 0 with its return type (the headers' style), a member is indented."""
    skip = re.compile(r"(struct|class|using|enum|namespace|typedef|static_assert|inline|constexpr|template)\b|[#/}]")
    names = set()
    for header in os.listdir(include_dir):
        for line in open(f"{include_dir}/{header}"):
            m = re.match(r"[A-Za-z][^;{(]*?\b([A-Za-z_]\w*)\(", line)
            if m and not skip.match(line):
                names.add(m.group(1) if header == "shiftad_c.h" else f"shiftad::{m.group(1)}")
    check(len(names) > 30, f"the headers' functions found ({len(names)})")
    return sorted(names)


def check_installed_tree(prefix, version):
    for h in INSTALLED_HEADERS:
        check(os.path.isfile(f"{prefix}/include/shiftad/{h}"), f"include/shiftad/{h} installed")
    check(not os.path.exists(f"{prefix}/include/shiftad/Lab.h"), "Lab.h (the CLI's lab) not installed")
    for f in ("downstream/CMakeLists.txt", "downstream/score.c", "downstream/score.cpp", "score.py"):
        check(os.path.isfile(f"{prefix}/share/shiftad/examples/{f}"), f"share/shiftad/examples/{f} installed")
    libdirs = [d for d in ("lib", "lib64", "lib/x86_64-linux-gnu") if os.path.isfile(f"{prefix}/{d}/libshiftad.so")]
    check(len(libdirs) == 1, f"libshiftad.so installed once under {prefix}/lib*")
    if not libdirs:
        sys.exit(1)
    lib = f"{prefix}/{libdirs[0]}/libshiftad.so"
    check(os.path.isfile(f"{prefix}/{libdirs[0]}/cmake/shiftad/shiftad-config.cmake"), "shiftad-config.cmake")
    check(os.path.isfile(f"{prefix}/{libdirs[0]}/cmake/shiftad/shiftad-config-version.cmake"), "its version file")
    dynamic = run(["readelf", "-d", lib]).stdout
    check(f"[libshiftad.so.{version}]" in dynamic, f"SONAME libshiftad.so.{version}")
    exported = run(["nm", "-D", "--defined-only", "-C", lib]).stdout.splitlines()
    for name in PUBLIC_SYMBOLS:
        check(any(name in line for line in exported), f"'{name}' exported")
    for name in declared_functions(f"{prefix}/include/shiftad"):
        # nm -C writes a function returning std::string as NAME[abi:cxx11](...)
        spelled = re.compile(re.escape(name) + r"(\[abi:cxx11\])?\(" if "::" in name else re.escape(name) + "$")
        check(any(spelled.search(line) for line in exported), f"'{name}' exported")
    leaked = [line for line in exported if PRIVATE_SYMBOLS.search(line)]
    check(not leaked, f"no private symbol exported (first of {len(leaked)}: {leaked[:3]})")
    for line in run(["grep", "-rh", "^#include", f"{prefix}/include/shiftad"]).stdout.splitlines():
        header = re.search(r'[<"](.*)[>"]', line).group(1)
        check(re.fullmatch(r"shiftad/\w+\.h|[a-z_]+|stddef\.h", header) is not None,
              f"installed headers include only the standard library and each other, not {header}")
    return lib


def build_downstream(prefix, tmp):
    """The installed copy of examples/downstream, built against the prefix."""
    build = f"{tmp}/downstream"
    run(["cmake", "-S", f"{prefix}/share/shiftad/examples/downstream", "-B", build, "-DCMAKE_BUILD_TYPE=Release",
         f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON"])
    cache = open(f"{build}/CMakeCache.txt").read()
    found = re.search(r"^shiftad_DIR:PATH=(.*)$", cache, re.M).group(1)
    check(os.path.realpath(found).startswith(os.path.realpath(prefix)), f"find_package found {found}, in the prefix")
    run(["cmake", "--build", build, "-j2"])
    return build


def check_installed_cli(prefix, tmp):
    """PREFIX/bin/shiftad (component cli) with the shipped suites in PREFIX/share/shiftad/suites,
    where it looks first: a suite only the installed folder holds is one it lists. The tree is
    then moved (a prefix copied to another machine or folder) and still finds its own."""
    suites = f"{prefix}/share/shiftad/suites"
    for f in ("synthetic.yaml", "pacs.yaml", "paper/auroc.csv"):
        check(os.path.isfile(f"{suites}/{f}"), f"share/shiftad/suites/{f} installed")
    shutil.copyfile(f"{suites}/synthetic.yaml", f"{suites}/only-installed.yaml")
    moved = f"{tmp}/moved-prefix"
    shutil.copytree(prefix, moved, symlinks=True)
    for where in (prefix, moved):
        p = run([f"{where}/bin/shiftad", "bench", "--suite", "no-such-suite", "--out", f"{tmp}/b"], expect=1)
        check("only-installed" in p.stderr and "synthetic" in p.stderr,
              f"{where}/bin/shiftad lists the suites installed beside it (got: {p.stderr.strip()[:300]})")
    os.remove(f"{moved}/share/shiftad/suites/only-installed.yaml")
    return moved


def build_with_pkg_config(source, prefix, tmp):
    """examples/downstream's C program built without CMake, with the flags of the installed
    shiftad.pc (found by PKG_CONFIG_PATH); RPATH to where pkg-config says the library is."""
    pc_dirs = [f"{prefix}/{d}/pkgconfig" for d in ("lib", "lib64", "lib/x86_64-linux-gnu")]
    env = dict(os.environ, PKG_CONFIG_PATH=":".join(pc_dirs))
    flags = run(["pkg-config", "--cflags", "--libs", "shiftad"], env=env).stdout.split()
    libdir = run(["pkg-config", "--variable=libdir", "shiftad"], env=env).stdout.strip()
    check(os.path.isfile(f"{libdir}/libshiftad.so"), f"shiftad.pc's libdir {libdir} holds libshiftad.so")
    check(run(["pkg-config", "--modversion", "shiftad"], env=env).stdout.strip() == sys.argv[5], "shiftad.pc's version")
    out = f"{tmp}/score_c_pkgconfig"
    run(["cc", "-std=c89", "-pedantic-errors", "-Wall", f"{prefix}/share/shiftad/examples/downstream/score.c", "-o", out] + flags +
        [f"-Wl,-rpath,{libdir}"])
    return out, flags, libdir


def run_the_docs_c_snippet(source, flags, libdir, run_dir, tmp):
    """deploy.md's C snippet, in a main that declares w, h and pixels (a black 16 x 16
    image), built as strict C89 with shiftad.pc's flags and run where runs/mug is the run:
    one line, the score and the decision (it was not C89: declarations after statements)."""
    doc = open(f"{source}/docs/deploy.md").read()
    body = doc[doc.index("```c\n", doc.index("### C\n")) + 5:]
    body = body[:body.index("```")]
    includes = [l for l in body.splitlines() if l.startswith("#include")]
    code = "\n".join(l for l in body.splitlines() if not l.startswith("#include"))
    check(includes and "shiftad_score_images" in code, "deploy.md's C snippet found")
    with open(f"{tmp}/snippet.c", "w") as f:
        f.write("#include <stdio.h>\n" + "\n".join(includes) + "\nint main(void) {\n"
                "  static unsigned char pixels[16 * 16 * 3];\n  int w = 16, h = 16;\n" + code + "\n  return 0;\n}\n")
    run(["cc", "-std=c89", "-pedantic-errors", "-Wall", f"{tmp}/snippet.c", "-o", f"{tmp}/snippet"] + flags +
        [f"-Wl,-rpath,{libdir}"])
    os.makedirs(f"{tmp}/snippet-cwd/runs", exist_ok=True)
    os.symlink(run_dir, f"{tmp}/snippet-cwd/runs/mug")
    p = subprocess.run([f"{tmp}/snippet"], cwd=f"{tmp}/snippet-cwd", capture_output=True, text=True)
    words = p.stdout.split()
    check(p.returncode == 0 and len(words) == 2 and words[1] in ("anomalous", "normal") and float(words[0]) >= 0,
          f"deploy.md's C snippet runs and prints a score and a decision (got: {p.stdout!r} {p.stderr[-300:]!r})")


def train_tiny_run(cli, tmp):
    run([cli, "synth", "--out", f"{tmp}/data"])
    with open(f"{tmp}/cfg.yaml", "w") as f:
        f.write(f"data:\n  root: {tmp}/data\n  source: source\n  target: target\n  normal_class: circle\n"
                "model:\n  width: 8\ntrain:\n  epochs: 2\n  batch_size: 16\n")
    run([cli, "train", "--config", f"{tmp}/cfg.yaml", "--out", f"{tmp}/run"])
    return f"{tmp}/run"


def write_png16(path, samples):
    """A 16-bit PNG of `samples` (uint16 H x W gray or H x W x 3 RGB), written here: Pillow
    cannot write 16-bit RGB."""
    import numpy as np
    h, w = samples.shape[:2]
    color = 0 if samples.ndim == 2 else 2
    raw = b"".join(b"\0" + samples[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def formats_pillow_decodes_otherwise(tmp, like):
    """16-bit gray and RGB PNGs and a CMYK JPEG made from the image `like`: Pillow's
    convert("RGB") clips 16-bit gray to 255, keeps the high byte of 16-bit RGB and
    converts CMYK otherwise than the library. Returns {path: 16-bit samples or None}."""
    import numpy as np
    from PIL import Image
    rgb = np.asarray(Image.open(like).convert("RGB")).astype(np.uint16)
    noise = np.random.default_rng(0).integers(0, 256, rgb.shape, dtype=np.uint16)
    made = {f"{tmp}/gray16.png": rgb[..., 1] * 256 + noise[..., 1], f"{tmp}/rgb16.png": rgb * 256 + noise}
    for path, samples in made.items():
        write_png16(path, samples)
    Image.open(like).convert("CMYK").save(f"{tmp}/cmyk.jpg", quality=95)
    made[f"{tmp}/cmyk.jpg"] = None
    return made


def images_to_score(tmp):
    """Target images of every class, sorted, a corrupt PNG among them, the formats
    Pillow decodes otherwise and a name with a comma and a quote."""
    paths = []
    for cls in sorted(os.listdir(f"{tmp}/data/target")):
        paths += sorted(f"{tmp}/data/target/{cls}/{f}" for f in os.listdir(f"{tmp}/data/target/{cls}"))[:4]
    corrupt = f"{tmp}/corrupt.png"
    with open(paths[0], "rb") as f, open(corrupt, "wb") as out:
        out.write(f.read()[:100])
    odd_name = f'{tmp}/com,ma "quoted".png'
    shutil.copyfile(paths[1], odd_name)
    return paths[:10] + [corrupt] + paths[10:] + [odd_name], corrupt


def check_decode_reduces_16_bit_as_the_library(source, made):
    """examples/score.py's decode_rgb of the 16-bit PNGs: round(v / 257) of the samples
    written (docs/reliability.md), gray replicated."""
    import numpy as np
    spec = importlib.util.spec_from_file_location("score_example", f"{source}/examples/score.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    for path, samples in made.items():
        if samples is None:
            continue
        w, h, rgb = example.decode_rgb(path)
        expected = np.round(samples / 257.0).astype(np.uint8)
        expected = np.repeat(expected[..., None], 3, -1) if expected.ndim == 2 else expected
        check((w, h) == (samples.shape[1], samples.shape[0]) and rgb == expected.tobytes(),
              f"score.py's decode_rgb({os.path.basename(path)}) is round(v / 257) of its 16-bit samples")


BLAS_AT_LOAD = r"""
import ctypes, sys, threading
blas = ctypes.CDLL("libblas.so.3")
if not hasattr(blas, "openblas_get_corename"):
    print("skip: the BLAS is not OpenBLAS"); sys.exit(0)
blas.openblas_get_corename.restype = ctypes.c_char_p
if blas.openblas_get_corename() != b"Prescott":
    print("skip: OpenBLAS knows this CPU"); sys.exit(0)
libc = ctypes.CDLL(None)
libc.getenv.restype = ctypes.c_char_p
stop = threading.Event()
threading.Thread(target=stop.wait).start()  # a host thread that could be in a BLAS call
lib = ctypes.CDLL(sys.argv[1])
at_load = (libc.getenv(b"OPENBLAS_CORETYPE"), blas.openblas_get_corename())
lib.shiftad_set_threads(1)
print(at_load, (libc.getenv(b"OPENBLAS_CORETYPE"), blas.openblas_get_corename()))
stop.set()
"""


def check_blas_kernels_chosen_at_set_threads_not_at_load(lib):
    """A host that loads the library while its own threads may be in BLAS calls (a dgemm
    loop beside a dlopen crashed or got wrong products) keeps its kernel table until it
    calls shiftad_set_threads, its start-up call."""
    flags = open("/proc/cpuinfo").read()
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    p = run(["/usr/bin/python3", "-c", BLAS_AT_LOAD, lib], env=env)
    if p.stdout.startswith("skip") or not (" avx2" in flags and " fma" in flags):
        print(f"BLAS kernels at load: not checked, {p.stdout.strip() or 'no AVX2 and FMA'}")
        return
    at_load, after_set_threads = p.stdout.strip().split(") (")
    check(at_load == "(None, b'Prescott'", f"the kernels are left alone at load ({p.stdout.strip()})")
    check(after_set_threads.startswith("b'") and "Prescott" not in after_set_threads,
          f"shiftad_set_threads chooses the kernels ({p.stdout.strip()})")


def check_score_pixels_reads_the_buffer_it_is_given(source, lib, run_dir, image, expected):
    """score.py's score_pixels with a NumPy array (it copied len(array) bytes, a row count,
    and the library read past them: another score at every call) and with a buffer of the
    wrong size (read past its end: a bus error), hunt14-a."""
    import numpy as np
    spec = importlib.util.spec_from_file_location("score_example", f"{source}/examples/score.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    w, h, rgb = example.decode_rgb(image)
    array = np.frombuffer(rgb, np.uint8).reshape(h, w, 3)
    with example.Detector(lib, run_dir, threads=1) as det:
        threshold = json.load(open(f"{run_dir}/calibration.json"))["threshold"]
        check(det.threshold() == threshold, f"score.py's threshold() {det.threshold()} is calibration.json's {threshold}")
        got = [r.score for r in det.score_pixels([(w, h, rgb), (w, h, array), (w, h, array[:, ::-1][:, ::-1])])]
        check(all(abs(g - expected) <= 1e-6 * max(1.0, abs(expected)) for g in got),
              f"score_pixels of bytes, a NumPy array and a strided view give the file's score {expected} (got {got})")
        try:
            det.score_pixels([(3000, 3000, b"\0" * 12)])
            check(False, "score_pixels refuses a buffer shorter than width * height * 3")
        except example.ShiftadError as e:
            check("12 bytes of pixels for 3000 x 3000 RGB" in str(e), f"score_pixels names the sizes (got: {e})")


def main():
    source, build, cli, built_lib, version = sys.argv[1:6]
    if not os.path.isfile(built_lib):
        sys.exit(f"FAIL: {built_lib} is not built; build the target shiftad_shared (or all) first")
    tmp = tempfile.mkdtemp(prefix="shiftad-deploy-")
    try:
        prefix = f"{tmp}/prefix"
        run(["cmake", "--install", build, "--prefix", prefix, "--component", "shiftad"])
        lib = check_installed_tree(prefix, version)
        check(not os.path.exists(f"{prefix}/bin/shiftad"), "--component shiftad installs the library only")
        run(["cmake", "--install", build, "--prefix", prefix])
        moved = check_installed_cli(prefix, tmp)
        score_c_pkgconfig, pc_flags, pc_libdir = build_with_pkg_config(source, moved, tmp)
        check_blas_kernels_chosen_at_set_threads_not_at_load(lib)
        downstream = build_downstream(prefix, tmp)
        run_dir = train_tiny_run(cli, tmp)
        run_the_docs_c_snippet(source, pc_flags, pc_libdir, run_dir, tmp)
        images, corrupt = images_to_score(tmp)
        made = formats_pillow_decodes_otherwise(tmp, images[0])
        images += list(made)
        check_decode_reduces_16_bit_as_the_library(source, made)
        with open(f"{tmp}/list.txt", "w") as f:
            f.write("\n".join(images) + "\n")
        run([cli, "score", "--model", run_dir, "--images", f"{tmp}/list.txt", "--out", f"{tmp}/cli.csv"])
        expected = read_csv_scores(open(f"{tmp}/cli.csv").read())
        check(corrupt not in expected and len(expected) == len(images) - 1, "the CLI skipped the corrupt file")
        python = ["/usr/bin/python3", f"{prefix}/share/shiftad/examples/score.py", "--lib", lib, run_dir]
        clients = {"score_cpp": [f"{downstream}/score_cpp", run_dir] + images,
                   "score_c": [f"{downstream}/score_c", run_dir] + images, "score.py": python + images,
                   "score_c (pkg-config, moved prefix)": [score_c_pkgconfig, run_dir] + images,
                   "score.py --decode": python[:-1] + ["--decode", run_dir] + images}
        for name, cmd in clients.items():
            p = run(cmd)
            compare(name, read_csv_scores(p.stdout), expected)
            if corrupt in cmd:
                check(f"skipped (unreadable): {corrupt}" in p.stderr, f"{name} reports the corrupt file skipped")
        readable = next(p for p in images if p != corrupt)
        check_score_pixels_reads_the_buffer_it_is_given(source, lib, run_dir, readable, expected[readable][0])
        for name, cmd in {"score_c": [f"{downstream}/score_c"], "score_cpp": [f"{downstream}/score_cpp"],
                          "score.py": python[:-1]}.items():
            p = run(cmd + [f"{tmp}/no-such-run", images[0]], expect=1)
            check(f"{tmp}/no-such-run" in p.stderr and p.stderr.startswith("error: "),
                  f"{name} on a missing run: one error naming it, exit 1 (got: {p.stderr.strip()[:300]})")
        p = run(["/usr/bin/python3", f"{source}/examples/score.py", "--lib", f"{tmp}/no-such-lib.so", run_dir,
                 images[0]], expect=1)
        check(p.stderr.startswith(f"error: cannot load the library '{tmp}/no-such-lib.so'")
              and "Traceback" not in p.stderr and "Exception ignored" not in p.stderr,
              f"score.py with a wrong --lib: one error line (got: {p.stderr.strip()[:300]})")
        print(f"{len(expected)} images (16-bit, CMYK, a name with a comma and a quote); the CLI, score_cpp, score_c, score.py and score.py --decode agree")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
