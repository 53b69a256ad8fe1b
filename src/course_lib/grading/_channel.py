"""The grading channel's format: plain data only, in a form that cannot carry code.

What crosses between the grader and a student's sandboxed worker is one of: ``None``, ``bool``,
``int``, ``float`` (NaN and infinities included), ``str``, a plain ``torch.Tensor`` of a numeric
or boolean dtype, and ``list``, ``tuple`` or ``dict`` (string keys) of these. A message is a
JSON header that describes the structure, followed by the raw bytes of its tensors::

    8 bytes: header length h (little endian) | h bytes: JSON | the tensors' bytes, in order

Decoding builds only those types (never a subclass: a student's tensor subclass or float
subclass arrives as a plain tensor or float), checks every size against the bytes present and
against :data:`MAX_MESSAGE_BYTES`, and raises :class:`ChannelError` for anything else. Nothing
is unpickled and nothing is imported, so no message can run code on the side that reads it.
"""

import json
import math
import struct
from typing import Any

import torch

MAX_MESSAGE_BYTES = 512 * 2**20
MAX_DEPTH = 32
_DTYPES = {
    str(dtype).removeprefix("torch."): dtype
    for dtype in (
        torch.bool,
        torch.uint8,
        torch.int8,
        torch.int16,
        torch.int32,
        torch.int64,
        torch.float16,
        torch.bfloat16,
        torch.float32,
        torch.float64,
        torch.complex64,
        torch.complex128,
    )
}
_LENGTH = struct.Struct("<Q")


class ChannelError(ValueError):
    """A value that is not plain data, or a message that is malformed or too large."""


def encode(value: Any) -> bytes:
    """``value`` as one message. Tensors are copied to the CPU, detached and made contiguous;
    subclasses of the plain types are converted to the plain type they extend."""
    buffers: list[bytes] = []
    header = json.dumps(_describe(value, buffers, 0), allow_nan=False).encode()
    message = _LENGTH.pack(len(header)) + header + b"".join(buffers)
    if len(message) > MAX_MESSAGE_BYTES:
        raise ChannelError(f"message of {len(message)} bytes exceeds {MAX_MESSAGE_BYTES}")
    return message


def decode(message: bytes) -> Any:
    """The value a message describes; :class:`ChannelError` if it is not a valid message."""
    if len(message) < _LENGTH.size or len(message) > MAX_MESSAGE_BYTES:
        raise ChannelError(f"message of {len(message)} bytes")
    (header_length,) = _LENGTH.unpack_from(message)
    body_start = _LENGTH.size + header_length
    if body_start > len(message):
        raise ChannelError("header longer than the message")
    try:
        header = json.loads(message[_LENGTH.size : body_start])
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ChannelError(f"header is not JSON: {error}") from None
    reader = _Reader(memoryview(message)[body_start:])
    value = _build(header, reader, 0)
    if reader.offset != len(reader.data):
        raise ChannelError("bytes left over after the last tensor")
    return value


def round_trip(value: Any) -> Any:
    """``decode(encode(value))``: what the other side of the channel would receive."""
    return decode(encode(value))


def _describe(value: Any, buffers: list[bytes], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ChannelError(f"nested deeper than {MAX_DEPTH} levels")
    if value is None or type(value) is bool:  # bool cannot be subclassed
        return value
    if isinstance(value, int):
        return {"int": str(int.__index__(value))}
    if isinstance(value, float):
        number = float.__float__(value)
        return {"float": repr(number)} if not math.isfinite(number) else number
    if isinstance(value, str):
        return {"str": str.__str__(value)}
    if isinstance(value, torch.Tensor):
        return _describe_tensor(value, buffers)
    if isinstance(value, (list, tuple)):
        kind = "tuple" if isinstance(value, tuple) else "list"
        return {kind: [_describe(item, buffers, depth + 1) for item in value]}
    if isinstance(value, dict):
        items = list(dict.items(value))
        if not all(type(key) is str for key, _ in items):
            raise ChannelError("dictionary keys must be strings")
        return {"dict": [[key, _describe(item, buffers, depth + 1)] for key, item in items]}
    raise ChannelError(f"{type(value).__name__} is not plain data")


def _describe_tensor(tensor: torch.Tensor, buffers: list[bytes]) -> dict:
    with torch._C.DisableTorchFunctionSubclass():
        plain = tensor.detach()
        if plain.layout != torch.strided:
            plain = plain.to_dense()
        plain = plain.as_subclass(torch.Tensor)
    name = str(plain.dtype).removeprefix("torch.")
    if name not in _DTYPES:
        raise ChannelError(f"tensors of dtype {plain.dtype} cannot be sent")
    plain = plain.cpu().contiguous()
    data = plain.reshape(-1).view(torch.uint8).numpy().tobytes() if plain.numel() else b""
    buffers.append(data)
    return {"tensor": {"dtype": name, "shape": list(plain.shape), "bytes": len(data)}}


class _Reader:
    def __init__(self, data: memoryview):
        self.data, self.offset = data, 0

    def take(self, size: int) -> memoryview:
        if size < 0 or self.offset + size > len(self.data):
            raise ChannelError("a tensor's bytes run past the end of the message")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk


def _build(node: Any, reader: _Reader, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ChannelError(f"nested deeper than {MAX_DEPTH} levels")
    if node is None or type(node) in (bool, float):
        return node
    if type(node) is int:
        return node
    if type(node) is not dict or len(node) != 1:
        raise ChannelError(f"unexpected element {str(node)[:80]!r}")
    ((kind, payload),) = node.items()
    if kind == "int" and type(payload) is str:
        try:
            return int(payload)
        except ValueError:
            raise ChannelError("malformed integer") from None
    if kind == "float" and payload in ("nan", "inf", "-inf"):
        return float(payload)
    if kind == "str" and type(payload) is str:
        return payload
    if kind in ("list", "tuple") and type(payload) is list:
        items = [_build(item, reader, depth + 1) for item in payload]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict" and type(payload) is list:
        if not all(
            type(pair) is list and len(pair) == 2 and type(pair[0]) is str for pair in payload
        ):
            raise ChannelError("malformed dictionary")
        return {key: _build(item, reader, depth + 1) for key, item in payload}
    if kind == "tensor" and type(payload) is dict:
        return _build_tensor(payload, reader)
    raise ChannelError(f"unexpected element {kind!r}")


def _build_tensor(spec: dict, reader: _Reader) -> torch.Tensor:
    dtype, shape, size = _DTYPES.get(spec.get("dtype")), spec.get("shape"), spec.get("bytes")
    if dtype is None or type(shape) is not list or type(size) is not int:
        raise ChannelError("malformed tensor description")
    if not all(type(n) is int and 0 <= n for n in shape) or len(shape) > 64:
        raise ChannelError(f"invalid tensor shape {shape}")
    itemsize = torch.empty((), dtype=dtype).element_size()
    if math.prod(shape) * itemsize != size:
        raise ChannelError(f"tensor of shape {shape} and dtype {dtype} cannot hold {size} bytes")
    data = bytearray(reader.take(size))
    if not data:
        return torch.empty(shape, dtype=dtype)
    raw = torch.frombuffer(data, dtype=torch.uint8)
    # Any byte other than 0 or 1 would be an invalid bool: build bools by comparison instead.
    values = raw != 0 if dtype is torch.bool else raw.view(dtype)
    return values.reshape(shape)
