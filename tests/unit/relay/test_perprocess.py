"""PerProcess: one object per process, a new one in a forked child."""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from relay.perprocess import PerProcess


def test_built_once_and_shared_by_threads():
    built = []
    holder = PerProcess(lambda: built.append(1) or object())
    barrier = threading.Barrier(8)

    def get_at_once(_):
        barrier.wait()
        return holder.get()

    with ThreadPoolExecutor(8) as pool:
        seen = set(map(id, pool.map(get_at_once, range(8))))
    assert len(built) == 1 and len(seen) == 1


def test_reset_closes_and_the_next_get_builds_anew():
    closed = []
    holder = PerProcess(object, closed.append)
    first = holder.get()
    assert holder.peek() is first
    holder.reset()
    assert closed == [first] and holder.peek() is None
    assert holder.get() is not first


def test_a_forked_child_builds_its_own_and_leaves_the_parents_open():
    closed = []
    holder = PerProcess(lambda: os.getpid(), closed.append)
    assert holder.get() == os.getpid()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report what it sees, never return into pytest
        try:
            inherited = holder.peek()
            mine = holder.get()
            holder.reset()   # closes the one it built, never the parent's
            os.write(write, f"{inherited},{mine},{closed}".encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    report = os.read(read, 200).decode()
    os.close(read)
    assert report == f"None,{child},[{child}]"
    assert holder.get() == os.getpid() and closed == []
