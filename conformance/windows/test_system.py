"""kernel32 process/thread, memory, time, TLS and synchronisation calls for real,
each checked against an independent oracle (os, threading, time, the memory
manager's own VirtualQuery)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from vllsi import errors
from vllsi import windows as w
from vllsi.windows import consts as C
from vllsi.windows._ffi import ffi

EPOCH_1601_TO_1970_100NS = 116444736000000000


@pytest.mark.covers("windows.get_current_process_id", "windows.get_current_thread_id",
                    "windows.get_current_thread", "windows.switch_to_thread",
                    "windows.get_active_processor_count")
def test_ids_and_processors() -> None:
    assert w.get_current_process_id() == os.getpid()
    assert w.get_current_thread_id() == threading.get_native_id()
    other: list[int] = []
    t = threading.Thread(target=lambda: other.append(w.get_current_thread_id()))
    t.start()
    t.join()
    assert other[0] == t.native_id != w.get_current_thread_id()
    assert w.get_current_thread() == -2  # the pseudo-handle
    assert isinstance(w.switch_to_thread(), bool)
    assert w.get_active_processor_count() == os.cpu_count()
    with pytest.raises(ValueError):
        w.get_active_processor_count(-1)


@pytest.mark.covers("windows.get_system_info", "windows.SystemInfo")
def test_system_info() -> None:
    import mmap

    si = w.get_system_info()
    assert isinstance(si, w.SystemInfo)
    assert si.page_size == mmap.PAGESIZE
    assert si.allocation_granularity == mmap.ALLOCATIONGRANULARITY
    assert si.number_of_processors == os.cpu_count()
    assert 0 < si.minimum_address < si.maximum_address


@pytest.mark.covers("windows.virtual_alloc", "windows.virtual_protect", "windows.virtual_query",
                    "windows.virtual_free", "windows.MemoryInfo")
def test_virtual_memory_lifecycle() -> None:
    size = 3 * 4096 + 1
    a = w.virtual_alloc(0, size, C.MEM_RESERVE | C.MEM_COMMIT, C.PAGE_READWRITE)
    assert a % 65536 == 0  # allocation granularity
    p = ffi.cast("unsigned char *", a)
    p[0], p[size - 1] = 0xAB, 0xCD  # committed, writable, zero-filled
    assert p[1] == 0 and p[size - 1] == 0xCD
    info = w.virtual_query(a)
    assert isinstance(info, w.MemoryInfo)
    assert (info.base_address, info.allocation_base) == (a, a)
    assert info.region_size == 4 * 4096 and info.state == C.MEM_COMMIT
    assert info.protect == C.PAGE_READWRITE
    assert w.virtual_protect(a, 4096, C.PAGE_READONLY) == C.PAGE_READWRITE
    assert w.virtual_query(a).protect == C.PAGE_READONLY
    assert p[0] == 0xAB  # still readable
    assert w.virtual_query(a + 4096).protect == C.PAGE_READWRITE
    w.virtual_free(a, 0, C.MEM_RELEASE)
    assert w.virtual_query(a).state == C.MEM_FREE
    with pytest.raises(errors.InvalidArgument) as ei:
        w.virtual_free(a, 0, C.MEM_RELEASE)
    assert ei.value.winerror in (87, 487)  # ERROR_INVALID_PARAMETER (Wine) / _ADDRESS
    with pytest.raises(ValueError):
        w.virtual_alloc(0, 0, C.MEM_COMMIT, C.PAGE_READWRITE)


@pytest.mark.covers("windows.virtual_alloc")
def test_virtual_alloc_reserve_only_and_oversize() -> None:
    a = w.virtual_alloc(0, 1 << 20, C.MEM_RESERVE, C.PAGE_NOACCESS)
    try:
        assert w.virtual_query(a).state == C.MEM_RESERVE
        b = w.virtual_alloc(a, 4096, C.MEM_COMMIT, C.PAGE_READWRITE)
        assert b == a and w.virtual_query(a).state == C.MEM_COMMIT
    finally:
        w.virtual_free(a, 0, C.MEM_RELEASE)
    with pytest.raises((errors.ResourceExhausted, errors.InvalidArgument)) as ei:
        w.virtual_alloc(0, 1 << 62, C.MEM_RESERVE | C.MEM_COMMIT, C.PAGE_READWRITE)
    assert ei.value.winerror in (8, 87, 1455) and ei.value.syscall == "VirtualAlloc"


@pytest.mark.covers("windows.query_performance_counter", "windows.query_performance_frequency",
                    "windows.get_system_time_precise_as_file_time")
def test_clocks_against_time_module() -> None:
    f = w.query_performance_frequency()
    assert f > 0
    samples = [w.query_performance_counter() for _ in range(100)]
    assert samples == sorted(samples)
    a, t0 = w.query_performance_counter(), time.perf_counter_ns()
    time.sleep(0.05)
    b, t1 = w.query_performance_counter(), time.perf_counter_ns()
    elapsed_qpc_ns = (b - a) * 10**9 // f
    assert 0.5 * (t1 - t0) < elapsed_qpc_ns < 2 * (t1 - t0) + 10**7
    ft = w.get_system_time_precise_as_file_time()
    unix_ns = (ft - EPOCH_1601_TO_1970_100NS) * 100
    assert abs(unix_ns - time.time_ns()) < 5 * 10**9


@pytest.mark.covers("windows.tls_alloc", "windows.tls_set_value", "windows.tls_get_value",
                    "windows.tls_free")
def test_tls_slots_are_per_thread() -> None:
    i = w.tls_alloc()
    try:
        assert w.tls_get_value(i) == 0
        w.tls_set_value(i, 0xDEADBEEF)
        seen: list[int] = []

        def other() -> None:
            seen.append(w.tls_get_value(i))
            w.tls_set_value(i, 42)
            seen.append(w.tls_get_value(i))

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert seen == [0, 42]
        assert w.tls_get_value(i) == 0xDEADBEEF
    finally:
        w.tls_free(i)
    with pytest.raises(errors.InvalidArgument):
        w.tls_free(100000)
    with pytest.raises(ValueError):
        w.tls_set_value(-1, 0)


@pytest.mark.covers("windows.create_event", "windows.set_event", "windows.wait_for_single_object")
def test_event_wait() -> None:
    e = w.create_event(manual_reset=True, initial=False)
    try:
        assert w.wait_for_single_object(e, 0) == C.WAIT_TIMEOUT
        threading.Timer(0.05, w.set_event, (e,)).start()
        assert w.wait_for_single_object(e, C.INFINITE) == C.WAIT_OBJECT_0
        assert w.wait_for_single_object(e, 0) == C.WAIT_OBJECT_0  # manual reset: stays set
    finally:
        w.close_handle(e)
    with pytest.raises(errors.BadDescriptor):
        w.wait_for_single_object(e, 0)


@pytest.mark.covers("windows.wait_on_address", "windows.wake_by_address_single",
                    "windows.wake_by_address_all")
def test_wait_on_address() -> None:
    buf = bytearray(16)
    mv = memoryview(buf).cast("I")
    assert w.wait_on_address(buf, 0, 1, C.INFINITE)  # differs already: returns at once
    assert w.wait_on_address(buf, 0, 0, 30) is False  # equal: times out
    woken: list[bool] = []

    def waiter() -> None:
        while mv[1] == 0:
            woken.append(w.wait_on_address(buf, 4, 0, 10_000))

    ts = [threading.Thread(target=waiter) for _ in range(2)]
    for t in ts:
        t.start()
    time.sleep(0.05)
    mv[1] = 1
    w.wake_by_address_all(buf, 4)
    for t in ts:
        t.join(30)
        assert not t.is_alive()
    assert woken and all(woken)
    t = threading.Thread(target=lambda: woken.append(w.wait_on_address(buf, 8, 0, 10_000)))
    t.start()
    time.sleep(0.05)
    mv[2] = 5
    w.wake_by_address_single(buf, 8)
    t.join(30)
    assert not t.is_alive()
    for off in (1, 13, -4):
        with pytest.raises(ValueError):
            w.wait_on_address(buf, off, 0, 0)
    with pytest.raises(TypeError):
        w.wake_by_address_single(b"ro" * 4, 0)
    mv.release()


@pytest.mark.covers("windows.create_waitable_timer_ex", "windows.set_waitable_timer")
def test_waitable_timer() -> None:
    try:
        t = w.create_waitable_timer_ex(high_resolution=True)
    except errors.InvalidArgument:  # older Windows: no high-resolution timers
        t = w.create_waitable_timer_ex(high_resolution=False)
    try:
        assert w.wait_for_single_object(t, 0) == C.WAIT_TIMEOUT
        start = time.perf_counter_ns()
        w.set_waitable_timer(t, -20 * 10_000)  # 20 ms, relative
        assert w.wait_for_single_object(t, 10_000) == C.WAIT_OBJECT_0
        assert time.perf_counter_ns() - start >= 15_000_000
        assert w.wait_for_single_object(t, 0) == C.WAIT_OBJECT_0  # manual reset: stays set
        w.set_waitable_timer(t, -1)  # re-arm resets it
    finally:
        w.close_handle(t)
    with pytest.raises(ValueError):
        w.set_waitable_timer(0, -1)


@pytest.mark.covers("windows.create_file_mapping", "windows.map_view_of_file",
                    "windows.unmap_view_of_file")
def test_pagefile_section_shared_between_views() -> None:
    s = w.create_file_mapping(1 << 16)
    try:
        a = w.map_view_of_file(s, C.FILE_MAP_ALL_ACCESS, 0, 1 << 16)
        b = w.map_view_of_file(s, C.FILE_MAP_READ, 0, 0)
        try:
            assert a != b
            pa, pb = ffi.cast("unsigned char *", a), ffi.cast("unsigned char *", b)
            assert pb[123] == 0
            pa[123] = 77
            assert pb[123] == 77  # two views of one section see the same pages
            assert w.virtual_query(b).protect == C.PAGE_READONLY
        finally:
            w.unmap_view_of_file(b)
            w.unmap_view_of_file(a)
        with pytest.raises(errors.InvalidArgument):
            w.unmap_view_of_file(a)
    finally:
        w.close_handle(s)
    with pytest.raises(ValueError):
        w.create_file_mapping(0)
