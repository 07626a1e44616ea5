"""Read safetensors files (zerospec's golden-trace format) with the standard library only.

    python3 tools/python/zs_safetensors.py FILE    # name, dtype, shape and first values of each tensor

read(path) returns ({name: (dtype, shape, raw bytes)}, metadata); values(dtype, raw) decodes the
little-endian data to a flat Python list. Only the framing is checked here: the strict validator
is the C reader, conformance/common/safetensors.c.
"""
import json
import struct
import sys

# struct codes; "e" is IEEE half precision. BF16 is the top half of an F32, decoded by shifting.
STRUCT_CODES = {"F64": "d", "F32": "f", "I64": "q", "I32": "i", "F16": "e", "BF16": "H", "U8": "B", "BOOL": "?"}


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: truncated: {len(blob)} bytes, fewer than the 8-byte header length")
    (n,) = struct.unpack_from("<Q", blob, 0)
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    data = blob[8 + n:]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        if end > len(data):
            raise ValueError(f"{path}: truncated: tensor {name!r} ends at {end}, the data has {len(data)} bytes")
        tensors[name] = (info["dtype"], info["shape"], data[begin:end])
    return tensors, metadata


def values(dtype, raw):
    if dtype not in STRUCT_CODES:
        raise ValueError(f"dtype {dtype!r} is not supported")
    code = STRUCT_CODES[dtype]
    items = list(struct.unpack(f"<{len(raw) // struct.calcsize(code)}{code}", raw))
    if dtype == "BF16":
        items = [struct.unpack("<f", struct.pack("<I", h << 16))[0] for h in items]
    return items


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} FILE.safetensors", file=sys.stderr)
        return 2
    tensors, metadata = read(argv[1])
    for key, value in sorted(metadata.items()):
        print(f"metadata {key} = {value}")
    for name, (dtype, shape, raw) in tensors.items():
        vals = values(dtype, raw)
        print(f"{name}  {dtype}  {shape}  {vals[:6]}{' ...' if len(vals) > 6 else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
