"""Writes Arrow IPC streams with pyarrow, each beside the values it holds as JSON, for the reader's tests.

    python arrow_streams.py FOLDER

Each case is FOLDER/NAME.arrow (one stream) and FOLDER/NAME.json, either {"refused": the reader's
message} or {"rows": n, "columns": [{"name",
"kind", "values"}]}, doubles as the 64 bits of their IEEE 754 form (an integer), dates as days since
1970-01-01 and timestamps as microseconds since 1970 UTC.
"""

import datetime
import json
import pathlib
import struct
import sys

import pyarrow as pa

folder = pathlib.Path(sys.argv[1])
folder.mkdir(parents=True, exist_ok=True)
epoch = datetime.date(1970, 1, 1)


def write(name, table, batch_rows=None, options=None, refused=False):
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        if batch_rows:
            for batch in table.to_batches(max_chunksize=batch_rows):
                writer.write_batch(batch)
        else:
            writer.write_table(table)
    (folder / f"{name}.arrow").write_bytes(sink.getvalue().to_pybytes())
    if refused:
        (folder / f"{name}.json").write_text(json.dumps({"refused": refused}))
        return
    columns = []
    for field, column in zip(table.schema, table.columns):
        t = field.type
        # Timestamps are read as integers: to_pylist() of a nanosecond value needs pandas.
        values = None if pa.types.is_timestamp(t) else column.to_pylist()
        if pa.types.is_integer(t):
            kind = "integers"
        elif pa.types.is_floating(t):
            kind = "doubles"
            # As the bits of the double (NaN and infinity included), so nothing is lost to JSON.
            values = [None if v is None else struct.unpack("<q", struct.pack("<d", v))[0] for v in values]
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            kind = "strings"
        elif pa.types.is_boolean(t):
            kind = "booleans"
        elif pa.types.is_date(t):
            kind = "dates"
            values = [None if v is None else (v - epoch).days for v in values]
        elif pa.types.is_timestamp(t):
            kind = "timestamps"
            unit = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": None}[t.unit]
            raw = column.cast(pa.int64()).to_pylist()
            values = [None if v is None else (v // 1000 if unit is None else v * unit) for v in raw]
        elif pa.types.is_null(t):
            kind = "nulls"
            values = len(values)
        else:
            raise ValueError(t)
        columns.append({"name": field.name, "kind": kind, "values": values})
    (folder / f"{name}.json").write_text(json.dumps({"rows": table.num_rows, "columns": columns}))


ints = [0, 1, -1, None, 127, -128]
write(
    "types",
    pa.table(
        {
            "i8": pa.array(ints, pa.int8()),
            "i16": pa.array([0, 32767, -32768, None, 5, -5], pa.int16()),
            "i32": pa.array([0, 2**31 - 1, -(2**31), None, 7, -7], pa.int32()),
            "i64": pa.array([0, 2**63 - 1, -(2**63), None, 9, -9], pa.int64()),
            "u8": pa.array([0, 255, 1, None, 2, 3], pa.uint8()),
            "u32": pa.array([0, 2**32 - 1, 1, None, 2, 3], pa.uint32()),
            "f32": pa.array([0.5, -1.25, None, 3.0e38, float("nan"), -0.0], pa.float32()),
            "f64": pa.array([0.1, -2.5e-300, None, 1.7e308, float("nan"), float("inf")], pa.float64()),
            "text": pa.array(["", "a", None, "Dŵr £5 ✓", "x" * 300, "line\nbreak"], pa.string()),
            "large": pa.array(["l", None, "", "ü", "zz", "end"], pa.large_string()),
            "flag": pa.array([True, False, None, True, True, False], pa.bool_()),
            "day": pa.array([epoch, datetime.date(2025, 4, 1), None, datetime.date(1900, 2, 28),
                             datetime.date(1969, 12, 31), datetime.date(9999, 12, 31)], pa.date32()),
            "day_ms": pa.array([0, 86_400_000 * 20_000, None, -86_400_000, 86_400_000, 0], pa.date64()),
            "at_us": pa.array([0, 1_743_465_600_000_000, None, -1, 5, 6], pa.timestamp("us", tz="UTC")),
            "at_s": pa.array([0, 1_743_465_600, None, -1, 5, 6], pa.timestamp("s")),
            "at_ns": pa.array([0, 1_743_465_600_000_000_123, None, -1_500, 5_000, 6_999], pa.timestamp("ns")),
            "nothing": pa.array([None] * 6, pa.null()),
        }
    ),
)
# Many batches in one stream; no nulls in some columns (no validity bitmap then).
n = 10_000
write(
    "batches",
    pa.table({"person": pa.array(range(n), pa.int64()), "score": pa.array([i / 7 for i in range(n)], pa.float64()),
              "code": pa.array([None if i % 13 == 0 else f"C{i % 97}" for i in range(n)], pa.string())}),
    batch_rows=1_024,
)
write("empty", pa.table({"person": pa.array([], pa.int64()), "code": pa.array([], pa.string())}))
# The format before 0.15: no continuation marker before each message's length.
write("legacy", pa.table({"n": pa.array([1, 2, None], pa.int32())}), options=pa.ipc.IpcWriteOptions(use_legacy_format=True))
# What the reader refuses: dictionaries, nested columns, compressed bodies, decimals.
write("dictionary", pa.table({"d": pa.array(["a", "b", "a"]).dictionary_encode()}), refused="dictionary-encoded column d")
write("nested", pa.table({"l": pa.array([[1, 2], [3]], pa.list_(pa.int64()))}),
      refused="column l: Arrow type 12 (cast it to a number, text, a date or a timestamp)")
write("compressed", pa.table({"n": pa.array(range(100), pa.int64())}), options=pa.ipc.IpcWriteOptions(compression="zstd"),
      refused="compressed record batches")
write("decimal", pa.table({"m": pa.array([1, 2], pa.decimal128(10, 2))}),
      refused="column m: Arrow type 7 (cast it to a number, text, a date or a timestamp)")
