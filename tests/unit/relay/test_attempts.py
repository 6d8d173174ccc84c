"""attempts.worker_name(): the recording process, also in a forked child."""

from __future__ import annotations

import os

from relay import attempts


def test_worker_name_is_host_and_pid():
    assert attempts.worker_name().endswith(f":{os.getpid()}")


def test_a_forked_child_names_itself_not_its_parent():
    attempts.worker_name()  # computed in the parent first, as a prefork parent would
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.write(write, attempts.worker_name().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    name = os.read(read, 200).decode()
    os.close(read)
    assert name.endswith(f":{pid}")
