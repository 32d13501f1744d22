"""SQLite's five-state protocol against a real SQLite (the stdlib sqlite3) running in
another process on the same database file, in every state and both directions."""

from __future__ import annotations

import os
import sqlite3
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conformance._support import ON_WINDOWS, linux_only, only_on
from conformance._support.proc import spawn
from vllsi import errors
from vllsi.locking import sqlite as vsq
from vllsi.locking.sqlite import LockState, SqliteLock

posix_fds = pytest.mark.skipif(
    ON_WINDOWS, reason="platform: uses C runtime descriptors (os.open) or POSIX-only os oracles; on Windows vllsi takes HANDLEs (conformance/windows/test_backend_files.py)")


posix_peer = only_on("linux", "darwin")

# A sqlite3 connection in a child process driven line by line: each stdin line is a
# statement; the reply is "ok <rows>" or "err <message>".
PEER = textwrap.dedent("""
    import sqlite3, sys
    con = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
    print("ready", flush=True)
    for line in sys.stdin:
        try:
            rows = con.execute(line.strip()).fetchall()
            print("ok", rows, flush=True)
        except sqlite3.Error as exc:
            print("err", exc, flush=True)
""")


class Peer:
    def __init__(self, db: Path) -> None:
        self.proc = spawn(PEER, str(db))
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def do(self, sql: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(sql + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


LOCKED = "err database is locked"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    p = tmp_path / "t.db"
    con = sqlite3.connect(p)
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("CREATE TABLE t(x INTEGER)")
    con.execute("INSERT INTO t VALUES (1)")
    con.commit()
    con.close()
    return p


@pytest.fixture
def peer(db: Path) -> Iterator[Peer]:
    p = Peer(db)
    yield p
    p.close()


@pytest.fixture
def mgr(db: Path) -> Iterator[SqliteLock]:
    fd = os.open(db, os.O_RDWR)
    m = SqliteLock(fd)
    yield m
    m.unlock(LockState.UNLOCKED)
    os.close(fd)


@pytest.mark.covers("locking.sqlite.PENDING_BYTE", "locking.sqlite.RESERVED_BYTE",
                    "locking.sqlite.SHARED_FIRST", "locking.sqlite.SHARED_SIZE",
                    "locking.sqlite.LockState")
def test_offsets_and_states_are_sqlites() -> None:
    assert (vsq.PENDING_BYTE, vsq.RESERVED_BYTE, vsq.SHARED_FIRST, vsq.SHARED_SIZE) == (
        0x40000000, 0x40000001, 0x40000002, 510)
    assert [int(s) for s in LockState] == [0, 1, 2, 3, 4]
    assert [s.name for s in LockState] == ["UNLOCKED", "SHARED", "RESERVED", "PENDING",
                                           "EXCLUSIVE"]


@posix_peer
@pytest.mark.covers("locking.sqlite.SqliteLock")
def test_sqlite_reserved_blocks_our_reserved(peer: Peer, mgr: SqliteLock) -> None:
    assert mgr.check_reserved() is False
    assert peer.do("BEGIN IMMEDIATE") == "ok []"  # sqlite3 holds RESERVED
    assert mgr.check_reserved() is True
    mgr.lock(LockState.SHARED)
    assert mgr.state == LockState.SHARED
    with pytest.raises(errors.LockConflict):
        mgr.lock(LockState.RESERVED)
    assert mgr.state == LockState.SHARED
    assert peer.do("INSERT INTO t VALUES (2)") == "ok []"
    assert peer.do("COMMIT") == LOCKED  # its EXCLUSIVE needs our SHARED gone
    mgr.unlock(LockState.UNLOCKED)
    assert peer.do("COMMIT") == "ok []"
    mgr.lock(LockState.SHARED)
    mgr.lock(LockState.RESERVED)
    assert mgr.state == LockState.RESERVED


@posix_peer
@pytest.mark.covers("locking.sqlite.SqliteLock")
def test_our_exclusive_blocks_sqlite_until_released(peer: Peer, mgr: SqliteLock) -> None:
    for s in (LockState.SHARED, LockState.RESERVED, LockState.EXCLUSIVE):
        mgr.lock(s)
        assert mgr.state == s
    assert peer.do("SELECT count(*) FROM t") == LOCKED
    assert peer.do("BEGIN IMMEDIATE") == LOCKED
    mgr.unlock(LockState.SHARED)  # readers may come back, writers may not commit
    assert mgr.state == LockState.SHARED
    assert peer.do("SELECT count(*) FROM t") == "ok [(1,)]"
    assert peer.do("BEGIN IMMEDIATE") == "ok []"
    assert peer.do("INSERT INTO t VALUES (5)") == "ok []"
    assert peer.do("COMMIT") == LOCKED
    mgr.unlock(LockState.UNLOCKED)
    assert peer.do("COMMIT") == "ok []"
    assert peer.do("SELECT count(*) FROM t") == "ok [(2,)]"


@posix_peer
@pytest.mark.covers("locking.sqlite.SqliteLock")
def test_sqlite_reader_leaves_us_pending_and_pending_keeps_new_readers_out(
        peer: Peer, mgr: SqliteLock) -> None:
    assert peer.do("BEGIN") == "ok []"
    assert peer.do("SELECT count(*) FROM t") == "ok [(1,)]"  # sqlite3 holds SHARED
    mgr.lock(LockState.SHARED)
    mgr.lock(LockState.RESERVED)
    with pytest.raises(errors.LockConflict):
        mgr.lock(LockState.EXCLUSIVE)
    assert mgr.state == LockState.PENDING  # as os_unix.c leaves it
    assert peer.do("COMMIT") == "ok []"  # the reader leaves...
    assert peer.do("SELECT count(*) FROM t") == LOCKED  # ...and cannot come back
    mgr.lock(LockState.EXCLUSIVE)  # retries only the SHARED-range step
    assert mgr.state == LockState.EXCLUSIVE
    mgr.unlock(LockState.UNLOCKED)
    assert peer.do("SELECT count(*) FROM t") == "ok [(1,)]"


@posix_peer
@pytest.mark.covers("locking.sqlite.SqliteLock")
def test_sqlite_exclusive_blocks_our_shared(peer: Peer, mgr: SqliteLock) -> None:
    assert peer.do("BEGIN EXCLUSIVE") == "ok []"
    with pytest.raises(errors.LockConflict):
        mgr.lock(LockState.SHARED)
    assert mgr.state == LockState.UNLOCKED
    assert mgr.check_reserved() is True
    assert peer.do("COMMIT") == "ok []"
    mgr.lock(LockState.SHARED)
    assert mgr.check_reserved() is False


@posix_peer
@pytest.mark.covers("locking.sqlite.SqliteLock")
def test_our_reserved_lets_sqlite_read_but_not_reserve(peer: Peer, mgr: SqliteLock) -> None:
    mgr.lock(LockState.SHARED)
    mgr.lock(LockState.RESERVED)
    assert peer.do("SELECT count(*) FROM t") == "ok [(1,)]"
    assert peer.do("BEGIN IMMEDIATE") == LOCKED
    assert peer.do("INSERT INTO t VALUES (3)") == LOCKED
    mgr.lock(LockState.PENDING)
    assert mgr.state == LockState.PENDING
    assert peer.do("SELECT count(*) FROM t") == LOCKED
    mgr.unlock(LockState.SHARED)
    assert peer.do("SELECT count(*) FROM t") == "ok [(1,)]"


@linux_only
@pytest.mark.covers("locking.sqlite.SqliteLock")
def test_two_managers_in_one_process_exclude_each_other(db: Path) -> None:
    a, b = os.open(db, os.O_RDWR), os.open(db, os.O_RDWR)
    try:
        with SqliteLock(a) as ma, SqliteLock(b) as mb:
            ma.lock(LockState.SHARED)
            mb.lock(LockState.SHARED)  # two readers starting together do not collide
            ma.lock(LockState.RESERVED)
            assert mb.check_reserved() and ma.check_reserved()
            with pytest.raises(errors.LockConflict):
                mb.lock(LockState.RESERVED)
            with pytest.raises(errors.LockConflict):
                ma.lock(LockState.EXCLUSIVE)
            assert ma.state == LockState.PENDING
            mb.unlock(LockState.UNLOCKED)
            with pytest.raises(errors.LockConflict):
                mb.lock(LockState.SHARED)  # PENDING keeps new readers out
            assert mb.state == LockState.UNLOCKED
            ma.lock(LockState.EXCLUSIVE)
        assert ma.state == mb.state == LockState.UNLOCKED  # the with released both
        SqliteLock(b).lock(LockState.SHARED)
    finally:
        os.close(a)
        os.close(b)


@posix_fds
@pytest.mark.covers("locking.sqlite.SqliteLock", "locking.sqlite.LockState")
def test_forbidden_transitions_and_no_ops(db: Path) -> None:
    fd = os.open(db, os.O_RDWR)
    try:
        m = SqliteLock(fd)
        for bad in (LockState.RESERVED, LockState.EXCLUSIVE, LockState.PENDING):
            with pytest.raises(ValueError):
                m.lock(bad)
        m.lock(LockState.SHARED)
        with pytest.raises(ValueError):
            m.lock(LockState.EXCLUSIVE)  # SQLite reserves first
        m.lock(LockState.UNLOCKED)  # at or below: no-op
        assert m.state == LockState.SHARED
        with pytest.raises(ValueError):
            m.unlock(LockState.RESERVED)
        with pytest.raises(ValueError):
            m.lock(7)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            m.lock("SHARED")  # type: ignore[arg-type]
        m.unlock(LockState.SHARED)
        assert m.state == LockState.SHARED
        m.unlock()
        assert m.state == LockState.UNLOCKED and repr(m).endswith("UNLOCKED)")
        with pytest.raises(TypeError):
            SqliteLock("fd")
    finally:
        os.close(fd)


WRITER = textwrap.dedent("""
    import sqlite3, sys
    con = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
    tag, n = int(sys.argv[2]), int(sys.argv[3])
    for i in range(n):
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO t VALUES (?)", (tag * 100000 + i,))
        con.execute("UPDATE t SET x = x WHERE rowid = 1")
        con.execute("COMMIT")
        if i % 10 == 0:
            con.execute("SELECT count(*) FROM t").fetchall()
    print("done", flush=True)
""")


def _header_consistent(fd: int, db: Path) -> bool:
    head = os.pread(fd, 100, 0)
    page = int.from_bytes(head[16:18], "big") or 65536
    pages = int.from_bytes(head[28:32], "big")
    valid = head[24:28] == head[92:96]
    return valid and pages * page == os.fstat(fd).st_size


@posix_peer
@pytest.mark.covers("locking.sqlite.SqliteLock")
def test_mixed_stress_keeps_the_database_intact(db: Path) -> None:
    n = 60
    writers = [spawn(WRITER, str(db), str(tag), str(n)) for tag in (1, 2)]
    fd = os.open(db, os.O_RDWR)
    m = SqliteLock(fd)
    exclusive = 0
    journal = Path(str(db) + "-journal")
    try:
        deadline = time.monotonic() + 120
        while any(w.poll() is None for w in writers) and time.monotonic() < deadline:
            try:
                m.lock(LockState.SHARED)
                m.lock(LockState.RESERVED)
                for _ in range(50):
                    try:
                        m.lock(LockState.EXCLUSIVE)
                        break
                    except errors.LockConflict:
                        # RESERVED if a reader was mid-way through taking SHARED (it
                        # holds PENDING shared for a moment), else PENDING
                        assert m.state in (LockState.RESERVED, LockState.PENDING)
                        time.sleep(0.001)
                if m.state == LockState.EXCLUSIVE:
                    # nobody else can be mid-commit: header and size agree, no journal
                    assert _header_consistent(fd, db)
                    assert not journal.exists()
                    exclusive += 1
            except errors.LockConflict:
                pass
            finally:
                m.unlock(LockState.UNLOCKED)
            time.sleep(0.002)
        for w in writers:
            out, _ = w.communicate(timeout=120)
            assert out.strip() == "done" and w.returncode == 0
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
                w.wait()
        m.unlock()
        os.close(fd)
    assert exclusive > 0
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("SELECT count(*) FROM t").fetchone() == (1 + 2 * n,)
    finally:
        con.close()


def _model_allows(target: LockState, me: LockState, others: list[LockState]) -> LockState:
    """SQLite's compatibility rules: the state ``lock(target)`` reaches from ``me``
    while the other connections sit in ``others`` (static, nobody mid-transition)."""
    if target <= me:
        return me
    if target == LockState.SHARED:
        ok = all(o < LockState.PENDING for o in others)
        return LockState.SHARED if ok else me
    if target == LockState.RESERVED:
        ok = all(o < LockState.RESERVED for o in others)
        return LockState.RESERVED if ok else me
    reached = max(me, LockState.PENDING)  # PENDING byte: nobody else can hold it here
    if target == LockState.EXCLUSIVE and all(o == LockState.UNLOCKED for o in others):
        return LockState.EXCLUSIVE
    return reached


OPS = st.lists(st.tuples(st.sampled_from([0, 0, 1, 1, 2]), st.sampled_from(
    ["lock1", "lock1", "lock2", "lock2", "lock3", "lock4", "lock4", "unlock0", "unlock1"])),
    min_size=4, max_size=40)


@linux_only
@pytest.mark.covers("locking.sqlite.SqliteLock", "locking.sqlite.LockState")
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
@example(ops=[(0, "lock1"), (1, "lock1"), (0, "lock2"), (0, "lock4")])
@example(ops=[(0, "lock1"), (0, "lock2"), (1, "lock1"), (1, "lock2")])
@example(ops=[(0, "lock1"), (0, "lock2"), (0, "lock4"), (0, "unlock1"), (1, "lock1"),
              (1, "lock2"), (1, "lock4")])
@example(ops=[(0, "lock1"), (1, "lock1"), (0, "lock2"), (0, "lock4"), (1, "unlock0"),
              (1, "lock1")])
def test_three_connections_follow_sqlites_compatibility_model(db: Path,
                                                              ops: list[tuple[int, str]]) -> None:
    fds = [os.open(db, os.O_RDWR) for _ in range(3)]
    mgrs = [SqliteLock(fd) for fd in fds]
    model = [LockState.UNLOCKED] * 3
    try:
        for who, op in ops:
            me = model[who]
            others = model[:who] + model[who + 1:]
            target = LockState(int(op[-1]))
            if op.startswith("unlock"):
                mgrs[who].unlock(target)
                model[who] = min(me, target)
            else:
                forbidden = (me == LockState.UNLOCKED and target > LockState.SHARED) or (
                    target >= LockState.PENDING and me < LockState.RESERVED)
                if forbidden:
                    with pytest.raises(ValueError):
                        mgrs[who].lock(target)
                    continue
                expect = _model_allows(target, me, others)
                if expect >= target:
                    mgrs[who].lock(target)
                else:
                    with pytest.raises(errors.LockConflict):
                        mgrs[who].lock(target)
                model[who] = expect
            assert [m.state for m in mgrs] == model, (who, op)
            assert all(m.check_reserved() == any(s >= LockState.RESERVED for s in model)
                       for m in mgrs)
    finally:
        for m in mgrs:
            m.unlock()
        for fd in fds:
            os.close(fd)
