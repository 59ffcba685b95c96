"""bowclf.allocator: the C allocator's free memory handed back before a fit's parameters."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from bowclf.allocator import _malloc_trim, release_free_memory


def test_release_free_memory_answers_whether_it_could():
    assert isinstance(release_free_memory(), bool)
    if _malloc_trim() is None:
        assert release_free_memory() is False


@pytest.mark.skipif(_malloc_trim() is None, reason="malloc_trim is glibc's")
def test_freed_heap_memory_leaves_the_resident_set():
    """Blocks freed between live ones stay resident (glibc returns only the top of a heap)
    until release_free_memory hands their pages back."""
    code = textwrap.dedent(
        """
        import os
        from bowclf.allocator import release_free_memory

        def rss_mib():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

        blocks = [bytearray(64 << 10) for _ in range(2048)]  # 128 MiB of heap blocks
        pins = blocks[::16]  # every 16th stays alive: the freed ones are holes
        del blocks
        before = rss_mib()
        assert release_free_memory()
        print(before - rss_mib(), len(pins))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert float(out[0]) > 64  # of the ~120 MiB freed
