"""analysis.gcpause: automatic garbage collection paused for one report, and what that must not change."""
import gc
import json
import subprocess
import sys
import weakref

import pytest

from analysis import gcpause

from conftest import BIN, ROOT


class Node:
    pass


def _cycle():
    """A two-object reference cycle and a weak reference that tells when it is freed."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_a_paused_block_collects_nothing_by_itself_and_its_cycles_afterwards(collector_on):
    with gcpause.paused():
        assert not gc.isenabled()
        ref = _cycle()
        for _ in range(50_000):       # far past the first generation's threshold: no collection runs
            [[]]
        assert ref() is not None      # the cycle is unreachable but still there
    assert gc.isenabled()
    assert ref() is None              # freed on the way out


def test_pausing_leaves_a_disabled_collector_and_an_outer_pause_as_they_were(collector_on):
    with gcpause.paused():
        with gcpause.paused():
            pass
        assert not gc.isenabled()     # the inner block does not turn it back on
        ref = _cycle()
    assert gc.isenabled() and ref() is None
    gc.disable()
    with gcpause.paused():
        pass
    assert not gc.isenabled()


def test_when_the_process_ends_after_the_block_collection_stays_off(collector_on):
    with gcpause.paused(process_ends=True):
        ref = _cycle()
    assert not gc.isenabled() and ref() is not None   # re-enabling would start a collection at once
    gc.enable()


def test_an_error_in_the_block_still_restores_collection(collector_on):
    with pytest.raises(ValueError):
        with gcpause.paused():
            raise ValueError("x")
    assert gc.isenabled()


def test_settle_takes_what_exists_out_of_later_collections():
    code = ("import gc, json; from analysis import gcpause; before = gc.get_freeze_count(); gcpause.settle(); "
            "print(json.dumps([before, gc.get_freeze_count(), gc.isenabled()]))")
    out = subprocess.run([str(BIN / "python"), "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    before, after, enabled = json.loads(out.stdout)
    assert before == 0 and after > 1000 and enabled is True
