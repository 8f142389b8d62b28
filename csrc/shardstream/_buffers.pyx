# cython: language_level=3
"""Reusable output memory for batch results.

Writing into freshly mapped memory costs a page fault per 4 KiB (measured:
5.9 GB/s instead of 15.8 GB/s for a copy), and the allocator behind pyarrow
hands large blocks back to the kernel as soon as they are freed.  A
``BufferPool`` keeps a few large numpy blocks and hands out views of them.
A block is reused only when nothing references it any more: every view, and
every Arrow buffer made from a view with ``pyarrow.py_buffer``, holds a
reference to the block, so a block whose reference count is back to the
pool's own is provably free.  Small requests are not pooled.

Thread-safety: ``take`` runs entirely under the GIL (no release between the
reference-count check and handing out the view), so two threads never get
the same block.
"""
from cpython.list cimport PyList_GET_ITEM
from cpython.ref cimport PyObject

import numpy as np

cdef extern from "Python.h":
    Py_ssize_t Py_REFCNT(PyObject *)

DEF MIN_POOLED_BYTES = 1 << 16   # smaller buffers come from malloc's own free lists


cdef Py_ssize_t _capacity(Py_ssize_t n):
    """The size class of a request: the smallest multiple of a quarter power of two
    that holds it (at most 25 % slack), so blocks are reused across similar sizes."""
    cdef Py_ssize_t p = 1
    while p * 2 <= n:
        p *= 2
    if p == n or p < 4:
        return n
    cdef Py_ssize_t step = p // 4
    return ((n + step - 1) // step) * step


cdef class BufferPool:
    """A bounded cache of large byte blocks, handed out as numpy views.

    Blocks are kept per size class; a request takes a free block of its class
    (checked by reference count) or allocates one.

    Parameters
    ----------
    max_bytes : int
        Most bytes the pool keeps allocated for reuse.
    max_blocks : int
        Most blocks kept.
    """
    cdef dict classes       # capacity -> list of numpy uint8 arrays (the list holds one reference each)
    cdef Py_ssize_t max_bytes
    cdef Py_ssize_t max_blocks
    cdef readonly Py_ssize_t pooled_bytes
    cdef readonly Py_ssize_t blocks
    cdef readonly Py_ssize_t hits
    cdef readonly Py_ssize_t misses

    def __cinit__(self, Py_ssize_t max_bytes=512 << 20, Py_ssize_t max_blocks=1024):
        self.classes = {}
        self.max_bytes = max_bytes
        self.max_blocks = max_blocks

    def take(self, Py_ssize_t nbytes, dtype=np.uint8):
        """An uninitialised array of ``nbytes`` bytes viewed as ``dtype``.

        Requests of at least 64 KiB come from a free pooled block of their size
        class when there is one; the array keeps its block busy until it (and
        anything built on it) is gone.
        """
        cdef Py_ssize_t i, cap
        cdef list blocks
        dtype = np.dtype(dtype)
        if nbytes < MIN_POOLED_BYTES:
            return np.empty(nbytes // dtype.itemsize, dtype=dtype)
        cap = _capacity(nbytes)
        blocks = self.classes.get(cap)
        if blocks is not None:
            for i in range(len(blocks)):
                # Borrowed pointer: a count of 1 is the list's own reference.
                if Py_REFCNT(PyList_GET_ITEM(blocks, i)) == 1:
                    self.hits += 1
                    return blocks[i][:nbytes].view(dtype)
        self.misses += 1
        block = np.empty(cap, dtype=np.uint8)
        if self.pooled_bytes + cap > self.max_bytes or self.blocks >= self.max_blocks:
            self._release_free(cap)
        if self.pooled_bytes + cap <= self.max_bytes and self.blocks < self.max_blocks:
            if blocks is None:
                blocks = self.classes[cap] = []
            blocks.append(block)
            self.pooled_bytes += cap
            self.blocks += 1
        return block[:nbytes].view(dtype)

    cdef _release_free(self, Py_ssize_t needed):
        """Let free blocks of other sizes go until ``needed`` more bytes fit."""
        cdef Py_ssize_t i
        for cap, blocks in list(self.classes.items()):
            i = 0
            while i < len(blocks):
                if Py_REFCNT(PyList_GET_ITEM(blocks, i)) == 1:
                    del blocks[i]
                    self.pooled_bytes -= cap
                    self.blocks -= 1
                else:
                    i += 1
            if not blocks:
                del self.classes[cap]
            if self.pooled_bytes + needed <= self.max_bytes and self.blocks < self.max_blocks:
                return

    def clear(self):
        """Forget every block (blocks still in use stay alive with their users)."""
        self.classes = {}
        self.pooled_bytes = 0
        self.blocks = 0


#: The pool the engine's batch paths share: at most 512 MiB in 1,024 blocks.
#: It only keeps memory the process has already used; ``default_pool.clear()``
#: lets it go.
default_pool = BufferPool()

#: The buffers put_batch gathers Python lists into (at most 384 MiB in 16 blocks), apart from
#: ``default_pool`` so that other batch results never evict them: a 100 MB block faulted in
#: afresh costs more than the gather itself.  ``gather_pool.clear()`` lets them go.
gather_pool = BufferPool(384 << 20, 16)
