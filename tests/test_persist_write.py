"""Model files write each array from its own memory a megabyte at a time, with the bytes
``np.lib.format.write_array`` writes (the same files)."""

import io

import numpy as np
import pytest

from bowclf import persist


@pytest.mark.parametrize(
    "arr",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.zeros((0, 5), np.float32),
        np.arange(5, dtype=">i4"),
        np.array(["ab", "c"]),
        np.arange(600_000, dtype=np.float32).reshape(-1, 100),
        np.asfortranarray(np.ones((3, 4))),
        np.array(3.5),
        np.array([True, False]),
    ],
)
def test_arrays_are_written_as_write_array_writes_them(arr):
    want, got = io.BytesIO(), io.BytesIO()
    np.lib.format.write_array(want, arr, allow_pickle=False)
    persist._write_npy(got, arr)
    assert got.getvalue() == want.getvalue()


def test_large_arrays_are_written_in_chunks_of_their_own_memory(monkeypatch):
    monkeypatch.setattr(persist, "_WRITE_CHUNK", 4096)
    arr = np.arange(10_000, dtype=np.float32)
    pieces = []

    class Member(io.BytesIO):
        def write(self, data):
            if isinstance(data, memoryview):
                pieces.append(data)
            return super().write(data)

    member = Member()
    persist._write_npy(member, arr)
    assert len(pieces) == 10 and max(p.nbytes for p in pieces) == 4096
    assert all(np.shares_memory(np.frombuffer(p, np.uint8), arr) for p in pieces)
    assert np.lib.format.read_array(io.BytesIO(member.getvalue())).tolist() == arr.tolist()


def test_atomic_write_replaces_only_on_success_and_keeps_the_mode(tmp_path):
    """The one atomic write model files and the command line's outputs share."""
    import os

    from bowclf.atomic import atomic_write

    target = tmp_path / "out.txt"
    target.write_text("old")
    os.chmod(target, 0o600)
    with pytest.raises(RuntimeError), atomic_write(target, "w", encoding="utf-8") as f:
        f.write("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    with atomic_write(target, "w", encoding="utf-8", durable=True) as f:
        f.write("new")
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
