"""Minimal safetensors writer for the oracles (F64 tensors as F64, everything else as
F32), written from the format spec: u64 little-endian header length, JSON header, raw
little-endian data."""
import json
import struct

import numpy as np
import torch


def save_file(tensors, path, metadata=None):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        f64 = t.dtype == torch.float64
        data = np.ascontiguousarray(t.detach().cpu().double().numpy()).astype("<f8" if f64 else "<f4").tobytes()
        header[name] = {"dtype": "F64" if f64 else "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
