"""kernel32 file calls for real: CreateFileW, ReadFile/WriteFile with OVERLAPPED
offsets, sizes, truncation, attributes, flush, MoveFileExW, DeleteFileW."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllsi import errors
from vllsi import windows as w
from vllsi.windows import consts as C

RW = C.GENERIC_READ | C.GENERIC_WRITE
SHARE = C.FILE_SHARE_READ | C.FILE_SHARE_WRITE | C.FILE_SHARE_DELETE


def _open(path: Path, disposition: int = C.OPEN_ALWAYS, flags: int = C.FILE_ATTRIBUTE_NORMAL,
          access: int = RW) -> int:
    return w.create_file(path, access, SHARE, disposition, flags)


@pytest.mark.covers("windows.create_file", "windows.close_handle", "windows.write_file",
                    "windows.read_file", "windows.get_file_size_ex")
def test_positional_roundtrip_visible_through_crt(tmp_path: Path) -> None:
    p = tmp_path / "f.bin"
    h = _open(p, C.CREATE_ALWAYS)
    try:
        assert w.write_file(h, b"hello world", 0) == 11
        assert w.write_file(h, b"XY", 6) == 2
        buf = bytearray(5)
        assert w.read_file(h, buf, 6) == 5 and bytes(buf) == b"XYrld"
        assert w.get_file_size_ex(h) == 11
        assert w.read_file(h, bytearray(4), 11) == 0  # at EOF: ERROR_HANDLE_EOF -> 0
        assert w.read_file(h, bytearray(4), 1 << 40) == 0
    finally:
        w.close_handle(h)
    assert p.read_bytes() == b"hello XYrld"
    assert os.path.getsize(p) == 11


@pytest.mark.covers("windows.write_file", "windows.read_file")
def test_positional_io_above_4gib_offset(tmp_path: Path) -> None:
    h = _open(tmp_path / "sparse.bin", C.CREATE_ALWAYS)
    try:
        off = (1 << 32) + 12345
        assert w.write_file(h, b"far", off) == 3
        out = bytearray(3)
        assert w.read_file(h, out, off) == 3 and out == b"far"
        assert w.get_file_size_ex(h) == off + 3
    finally:
        w.close_handle(h)


@pytest.mark.covers("windows.read_file", "windows.write_file", "windows.create_file")
def test_overlapped_handle_positional_io_waits_for_pending(tmp_path: Path) -> None:
    h = _open(tmp_path / "ov.bin", C.CREATE_ALWAYS, C.FILE_FLAG_OVERLAPPED)
    try:
        data = os.urandom(1 << 16)
        assert w.write_file(h, data, 4096) == len(data)
        out = bytearray(len(data))
        assert w.read_file(h, out, 4096) == len(data) and out == data
        assert w.read_file(h, bytearray(8), 1 << 20) == 0
    finally:
        w.close_handle(h)


@settings(max_examples=25, deadline=None)
@given(chunks=st.lists(st.tuples(st.integers(0, 1 << 20), st.binary(min_size=1, max_size=64)),
                       min_size=1, max_size=6))
@pytest.mark.covers("windows.write_file", "windows.read_file")
def test_positional_writes_match_a_model(tmp_path_factory: pytest.TempPathFactory,
                                         chunks: list[tuple[int, bytes]]) -> None:
    p = tmp_path_factory.mktemp("model") / "m.bin"
    model = bytearray()
    h = _open(p, C.CREATE_ALWAYS)
    try:
        for off, data in chunks:
            assert w.write_file(h, data, off) == len(data)
            if len(model) < off + len(data):
                model.extend(b"\0" * (off + len(data) - len(model)))
            model[off:off + len(data)] = data
        assert w.get_file_size_ex(h) == len(model)
        out = bytearray(len(model))
        assert w.read_file(h, out, 0) == len(model) and out == model
    finally:
        w.close_handle(h)


@pytest.mark.covers("windows.set_file_end_of_file_info", "windows.set_file_pointer_ex",
                    "windows.set_end_of_file")
def test_truncate_and_extend(tmp_path: Path) -> None:
    h = _open(tmp_path / "t.bin", C.CREATE_ALWAYS)
    try:
        w.write_file(h, b"0123456789", 0)
        assert w.set_file_pointer_ex(h, 2, C.FILE_BEGIN) == 2
        w.set_file_end_of_file_info(h, 4)  # leaves the file pointer alone
        assert w.get_file_size_ex(h) == 4
        assert w.set_file_pointer_ex(h, 0, C.FILE_CURRENT) == 2
        w.set_file_end_of_file_info(h, 1 << 20)
        assert w.get_file_size_ex(h) == 1 << 20
        w.set_end_of_file(h)  # at the pointer (2)
        assert w.get_file_size_ex(h) == 2
        with pytest.raises(ValueError):
            w.set_file_end_of_file_info(h, -1)
        with pytest.raises(errors.InvalidArgument) as ei:
            w.set_file_pointer_ex(h, -10, C.FILE_BEGIN)
        assert ei.value.winerror == 131  # ERROR_NEGATIVE_SEEK
    finally:
        w.close_handle(h)


@pytest.mark.covers("windows.write_file")
def test_read_only_handle_refuses_writes(tmp_path: Path) -> None:
    p = tmp_path / "ro.bin"
    p.write_bytes(b"abc")
    h = _open(p, C.OPEN_EXISTING, access=C.GENERIC_READ)
    try:
        with pytest.raises(errors.PermissionDenied) as ei:
            w.write_file(h, b"x", 0)
        assert ei.value.winerror == 5 and ei.value.errno == errno.EACCES
    finally:
        w.close_handle(h)


@pytest.mark.covers("windows.create_file")
def test_create_file_errors(tmp_path: Path) -> None:
    with pytest.raises(errors.NotFound) as ei:
        _open(tmp_path / "nope" / "x", C.OPEN_EXISTING)
    assert ei.value.winerror == 3 and ei.value.errno == errno.ENOENT
    assert ei.value.syscall == "CreateFileW"
    assert ei.value.filename == tmp_path / "nope" / "x"
    with pytest.raises(errors.NotFound) as ei:
        _open(tmp_path / "nope.txt", C.OPEN_EXISTING)
    assert ei.value.winerror == 2
    (tmp_path / "exists").write_bytes(b"")
    with pytest.raises(errors.AlreadyExists) as ei:
        _open(tmp_path / "exists", C.CREATE_NEW)
    assert ei.value.winerror == 80
    with pytest.raises(ValueError):
        _open(Path(str(tmp_path) + "\0x"))
    with pytest.raises(TypeError):
        w.create_file(123, RW, SHARE, C.OPEN_ALWAYS)


@pytest.mark.covers("windows.create_file")
def test_sharing_violation_is_permission_denied(tmp_path: Path) -> None:
    p = tmp_path / "excl.bin"
    h = w.create_file(p, RW, 0, C.CREATE_ALWAYS)  # no sharing
    try:
        with pytest.raises(errors.PermissionDenied) as ei:
            _open(p, C.OPEN_EXISTING)
        assert ei.value.winerror == 32  # ERROR_SHARING_VIOLATION
    finally:
        w.close_handle(h)


@pytest.mark.covers("windows.close_handle", "windows.read_file", "windows.get_file_size_ex")
def test_bad_handles(tmp_path: Path) -> None:
    h = _open(tmp_path / "c.bin")
    w.close_handle(h)
    with pytest.raises(errors.BadDescriptor) as ei:
        w.close_handle(h)
    assert ei.value.winerror == 6
    with pytest.raises(errors.BadDescriptor):
        w.get_file_size_ex(h)
    for bad in (0, -1):
        with pytest.raises(ValueError):
            w.read_file(bad, bytearray(1), 0)
    with pytest.raises(TypeError):
        w.read_file(True, bytearray(1), 0)
    h2 = _open(tmp_path / "d.bin")
    try:
        with pytest.raises(TypeError):
            w.read_file(h2, b"read-only", 0)
        with pytest.raises(ValueError):
            w.read_file(h2, bytearray(1), -1)
    finally:
        w.close_handle(h2)


@pytest.mark.covers("windows.get_file_attributes", "windows.get_file_type")
def test_attributes_and_type(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_bytes(b"")
    assert w.get_file_attributes(tmp_path) & C.FILE_ATTRIBUTE_DIRECTORY
    assert not w.get_file_attributes(p) & C.FILE_ATTRIBUTE_DIRECTORY
    with pytest.raises(errors.NotFound):
        w.get_file_attributes(tmp_path / "missing")
    h = _open(p)
    try:
        assert w.get_file_type(h) == C.FILE_TYPE_DISK
    finally:
        w.close_handle(h)
    r, wr = os.pipe()
    try:
        import msvcrt

        assert w.get_file_type(msvcrt.get_osfhandle(r)) == C.FILE_TYPE_PIPE
    finally:
        os.close(r)
        os.close(wr)


@pytest.mark.covers("windows.flush_file_buffers", "windows.move_file_ex", "windows.delete_file")
def test_flush_move_delete(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    b.write_bytes(b"old")
    h = _open(a, C.CREATE_ALWAYS)
    try:
        w.write_file(h, b"new", 0)
        w.flush_file_buffers(h)
    finally:
        w.close_handle(h)
    with pytest.raises(errors.AlreadyExists) as ei:
        w.move_file_ex(a, b, 0)
    assert ei.value.winerror in (80, 183)
    w.move_file_ex(a, b, C.MOVEFILE_REPLACE_EXISTING | C.MOVEFILE_WRITE_THROUGH)
    assert b.read_bytes() == b"new" and not a.exists()
    w.delete_file(b)
    assert not b.exists()
    with pytest.raises(errors.NotFound):
        w.delete_file(b)
    with pytest.raises(errors.NotFound):
        w.move_file_ex(a, b, C.MOVEFILE_REPLACE_EXISTING)
    h = _open(a, C.CREATE_ALWAYS, access=C.GENERIC_READ)
    try:
        with pytest.raises(errors.PermissionDenied):
            w.flush_file_buffers(h)  # not opened for writing
    finally:
        w.close_handle(h)


@pytest.mark.covers("windows.create_directory", "windows.remove_directory",
                    "windows.set_file_attributes")
def test_directories_and_attributes(tmp_path: Path) -> None:
    d = tmp_path / "d"
    w.create_directory(d)
    assert d.is_dir()
    with pytest.raises(errors.AlreadyExists):
        w.create_directory(d)
    with pytest.raises(errors.NotFound):
        w.create_directory(tmp_path / "no" / "parent")
    (d / "f").write_bytes(b"")
    with pytest.raises(OSError) as ei:
        w.remove_directory(d)
    assert ei.value.errno == errno.ENOTEMPTY and ei.value.winerror == 145
    w.set_file_attributes(d / "f", C.FILE_ATTRIBUTE_READONLY)
    assert not os.access(d / "f", os.W_OK)
    with pytest.raises(errors.PermissionDenied):
        w.delete_file(d / "f")
    w.set_file_attributes(d / "f", C.FILE_ATTRIBUTE_NORMAL)
    w.delete_file(d / "f")
    w.remove_directory(d)
    assert not d.exists()
    with pytest.raises(errors.NotFound):
        w.set_file_attributes(d, C.FILE_ATTRIBUTE_NORMAL)
