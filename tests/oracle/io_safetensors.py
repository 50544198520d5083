#!/usr/bin/env python3
"""Independent safetensors reference for tests/io (no `safetensors` package here).

Follows the format spec (https://huggingface.co/docs/safetensors) with json + struct +
numpy only, so it shares no code with the C++ implementation:

  io_safetensors.py write PATH   write a file of mixed dtypes + metadata; print as JSON
                                 what it holds: {"tensors": {name: {dtype, shape, values}},
                                 "metadata": {...}}
  io_safetensors.py read PATH    parse PATH, validate its layout as the reference reader
                                 does, print the same JSON plus {"checks": {...}}

Values are printed flat in row-major order: floats as Python floats (exact for every
dtype here), integers as ints, BOOL as 0/1. BF16 is handled as the upper 16 bits of a
float32, since numpy has no bfloat16.
"""
import json
import struct
import sys

import numpy as np

NUMPY_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
    "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "u1",
}


def encode(dtype, values):
    """Little-endian bytes of `values` as `dtype`."""
    if dtype == "BF16":
        bits = np.asarray(values, dtype="<f4").view("<u4")
        assert not np.any(bits & 0xFFFF), "BF16 sample values must be exactly representable"
        return (bits >> 16).astype("<u2").tobytes()
    return np.asarray(values, dtype=NUMPY_DTYPES[dtype]).tobytes()


def decode(dtype, data):
    """Flat Python list of the values in `data`."""
    if dtype == "BF16":
        arr = (np.frombuffer(data, dtype="<u2").astype("<u4") << 16).view("<f4")
    else:
        arr = np.frombuffer(data, dtype=NUMPY_DTYPES[dtype])
    if dtype.startswith(("F", "B")) and dtype != "BOOL":
        return [float(v) for v in arr]
    return [int(v) for v in arr]


# name -> (dtype, shape, values). Written in this (unsorted) order, so buffer order and
# key order differ from the C++ writer's.
SAMPLES = {
    "weight": ("F32", [2, 3], [-1.5, 0.0, 3.25, 1e-30, -2.5e10, 0.1]),
    "half": ("F16", [5], [0.5, -2.0, 65504.0, 6.103515625e-05, 0.333251953125]),
    "brain": ("BF16", [2, 2], [1.0, -3.140625, 2.0 ** 100, 0.0078125]),
    "scalar": ("F64", [], [2.718281828459045]),
    "count": ("I64", [3], [2 ** 40 + 1, -(2 ** 62), 7]),
    "i32": ("I32", [2], [-(2 ** 31), 2 ** 31 - 1]),
    "i16": ("I16", [3], [-32768, 32767, 0]),
    "i8": ("I8", [2], [-128, 127]),
    "u8": ("U8", [2, 2], [0, 255, 1, 128]),
    "mask": ("BOOL", [3], [1, 0, 1]),
    "empty": ("F32", [0, 4], []),
    "unicode_\u00e9": ("F32", [1], [42.0]),
}
METADATA = {"format": "pt", "note": "h\u00e9llo"}


def write(path):
    header, chunks, offset = {}, [], 0
    for name in reversed(list(SAMPLES)):  # buffer order: reverse of key order
        dtype, shape, values = SAMPLES[name]
        data = encode(dtype, values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    header = dict(reversed(list(header.items())))
    header["__metadata__"] = METADATA
    text = json.dumps(header).encode("utf-8")  # ensure_ascii: names go out as \u escapes
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
    tensors = {name: {"dtype": d, "shape": s, "values": decode(d, encode(d, v))} for name, (d, s, v) in SAMPLES.items()}
    return {"tensors": tensors, "metadata": METADATA}


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    text = blob[8:8 + n]
    header = json.loads(text.decode("utf-8"))
    buffer = blob[8 + n:]
    metadata = header.pop("__metadata__", None)
    tensors, ranges = {}, []
    for name, info in header.items():
        begin, end = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64))
        item = 2 if info["dtype"] == "BF16" else np.dtype(NUMPY_DTYPES[info["dtype"]]).itemsize
        assert end - begin == count * item, name
        tensors[name] = {"dtype": info["dtype"], "shape": info["shape"], "values": decode(info["dtype"], buffer[begin:end])}
        ranges.append((begin, end))
    ranges.sort()
    # The reference reader demands a gap-free buffer, exactly covered.
    contiguous = all(a[1] == b[0] for a, b in zip(ranges, ranges[1:])) and (not ranges or ranges[0][0] == 0)
    checks = {
        "header_padded_to_8": (8 + n) % 8 == 0,
        "header_starts_with_brace": text[:1] == b"{",
        "offsets_contiguous": contiguous,
        "buffer_fully_used": (ranges[-1][1] if ranges else 0) == len(buffer),
        "names_sorted_in_header": list(header) == sorted(header),
        "metadata_present": metadata is not None,
    }
    return {"tensors": tensors, "metadata": metadata or {}, "checks": checks}


if __name__ == "__main__":
    command, path = sys.argv[1], sys.argv[2]
    print(json.dumps({"write": write, "read": read}[command](path)))
