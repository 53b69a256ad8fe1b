"""The grading channel's format: what crosses between grader and student is plain data only,
and a malformed or hostile message is refused, never run."""

import json
import math
import struct

import pytest
import torch

from course_lib.grading._channel import MAX_DEPTH, ChannelError, decode, encode, round_trip


@pytest.mark.parametrize(
    "dtype",
    [
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
    ],
)
def test_tensors_of_every_dtype_cross_bit_for_bit(dtype):
    values = (torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(0)) * 100).to(dtype)
    received = round_trip(values)
    assert (
        type(received) is torch.Tensor
        and received.dtype == dtype
        and received.shape == values.shape
    )
    assert torch.equal(received, values)


def test_nested_plain_values_cross_unchanged():
    value = {
        "a": [1, -(2**70), 2.5, True, None, "text"],
        "b": (torch.zeros(0, 3), {"c": ()}),
        "nan": math.inf,
    }
    received = round_trip(value)
    assert (
        received.keys() == value.keys()
        and received["a"] == value["a"]
        and received["nan"] == math.inf
    )
    assert (
        isinstance(received["b"], tuple)
        and received["b"][0].shape == (0, 3)
        and received["b"][1] == {"c": ()}
    )
    assert math.isnan(round_trip(math.nan))


def test_views_non_contiguous_and_sparse_tensors_arrive_dense():
    base = torch.arange(12.0).reshape(3, 4)
    assert torch.equal(round_trip(base.T), base.T)
    assert torch.equal(round_trip(base.to_sparse()), base)
    assert torch.equal(round_trip(torch.randn(4, requires_grad=True) * 0 + 1), torch.ones(4))


def test_subclasses_arrive_as_the_plain_type():
    class Liar(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return True

    class AlwaysEqual(float):
        def __eq__(self, other):
            return True

    received = round_trip(
        {"t": torch.ones(2).as_subclass(Liar), "f": AlwaysEqual(0.5), "i": type("I", (int,), {})(3)}
    )
    assert type(received["t"]) is torch.Tensor and not torch.equal(received["t"], torch.zeros(2))
    assert type(received["f"]) is float and received["f"] != 0.7 and type(received["i"]) is int


@pytest.mark.parametrize(
    "value",
    [lambda: 1, object(), {1: "int key"}, b"bytes", torch.nn.Linear(2, 2), type],
    ids=["function", "object", "int key", "bytes", "module", "class"],
)
def test_anything_else_is_refused(value):
    with pytest.raises(ChannelError):
        encode(value)


def test_too_deep_nesting_is_refused():
    value: list = []
    for _ in range(MAX_DEPTH + 2):
        value = [value]
    with pytest.raises(ChannelError, match="deeper"):
        encode(value)


def _message(header, body: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


@pytest.mark.parametrize(
    "message",
    [
        b"",
        struct.pack("<Q", 10**9) + b"{}",
        _message(None)[:-1] + b"x",
        _message({"pickle": "cos\nsystem\n"}),
        _message({"tensor": {"dtype": "float32", "shape": [2], "bytes": 8}}, b"1234"),
        _message({"tensor": {"dtype": "float32", "shape": [2], "bytes": 4}}, b"1234"),
        _message({"tensor": {"dtype": "object", "shape": [1], "bytes": 8}}, b"12345678"),
        _message({"tensor": {"dtype": "float32", "shape": [-1], "bytes": 4}}, b"1234"),
        _message({"float": "1e999x"}),
        _message({"int": "9" * 10_000}),
        _message({"dict": [[1, 2]]}),
        _message({"float": 1.0}) + b"trailing",
    ],
    ids=[
        "empty",
        "huge header",
        "truncated",
        "unknown kind",
        "short tensor",
        "size mismatch",
        "object dtype",
        "negative shape",
        "bad float",
        "giant int",
        "int key",
        "trailing bytes",
    ],
)
def test_malformed_messages_are_refused(message):
    with pytest.raises(ChannelError):
        decode(message)


def test_bool_tensors_are_rebuilt_from_any_byte():
    message = _message({"tensor": {"dtype": "bool", "shape": [3], "bytes": 3}}, bytes([0, 1, 7]))
    assert decode(message).tolist() == [False, True, True]
