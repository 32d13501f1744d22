/* Ping-pong echo load generator for the echo benchmarks (benchmarks/_loadgen.py builds it
 * with gcc into benchmarks/.build and drives it; not part of the library).
 *
 *   echo_client HOST PORT SIZE CONNS [SNDBUF RCVBUF]
 *
 * Opens CONNS TCP connections to HOST:PORT (IPv4 dotted quad; _loadgen only passes
 * loopback addresses) (TCP_NODELAY, optional SO_SNDBUF /
 * SO_RCVBUF), prints "ready SNDBUF RCVBUF" (as granted), then serves rounds: each line
 * "N" on stdin makes every connection play N ping-pongs (send one SIZE-byte message,
 * read until SIZE bytes came back, repeat; exactly one message in flight per
 * connection, like uvloop's examples/bench/echoclient.py), then "done" is printed.
 * Every echoed byte is compared with what was sent (message k carries bytes
 * (k + i) & 255). EOF on stdin: close and exit 0.
 *
 * Failures are loud: a short or wrong echo, the server closing a connection, a socket
 * error, or no progress for STALL_MS print "echo_client: ..." on stderr and exit non-zero.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define STALL_MS 60000
#define MAX_EVENTS 64

struct conn {
    int fd;
    long left;          /* messages still to play this round */
    size_t sent, got;   /* progress of the message in flight */
    unsigned seq;       /* message number on this connection (pattern offset) */
    int want_out;       /* EPOLLOUT registered (a send was partial) */
};

static size_t size;
static unsigned char *pattern;  /* size + 256 bytes of i & 255 */
static unsigned char *rbuf;
static size_t rcap;
static int ep;

static void fail(int code, const char *fmt, ...) {
    va_list ap;
    int e = errno;
    fputs("echo_client: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (e && code == 2)
        fprintf(stderr, ": %s", strerror(e));
    fputc('\n', stderr);
    exit(code);
}

static void watch(struct conn *c, long i, int out) {
    struct epoll_event ev;
    ev.events = EPOLLIN | (out ? EPOLLOUT : 0);
    ev.data.u64 = (unsigned long long)i;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        fail(2, "epoll_ctl");
    c->want_out = out;
}

/* Send what the socket takes of the message in flight. */
static void push(struct conn *c, long i) {
    const unsigned char *msg = pattern + (c->seq & 255u);
    while (c->sent < size) {
        ssize_t n = send(c->fd, msg + c->sent, size - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!c->want_out)
                    watch(c, i, 1);
                return;
            }
            fail(2, "connection %ld: send", i);
        }
        c->sent += (size_t)n;
    }
    if (c->want_out)
        watch(c, i, 0);
}

/* A finished connection became readable: any byte is one nobody asked for. */
static void stray(struct conn *c, long i) {
    ssize_t n = recv(c->fd, rbuf, 1, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0)
        fail(2, "connection %ld: recv", i);
    errno = 0;
    if (n > 0)
        fail(4, "connection %ld: the server sent bytes nobody asked for", i);
    fail(4, "connection %ld: the server closed the connection", i);
}

/* Read what arrived (at most the rest of the message in flight); returns 1 when the
 * message is complete. */
static int pull(struct conn *c, long i) {
    size_t want = size - c->got;
    ssize_t n = recv(c->fd, rbuf, want < rcap ? want : rcap, 0);
    if (n == 0) {
        errno = 0;
        fail(4, "connection %ld: the server closed the connection (%zu of %zu bytes of "
                "message %u echoed)", i, c->got, size, c->seq);
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        fail(2, "connection %ld: recv", i);
    }
    if (memcmp(rbuf, pattern + (c->seq & 255u) + c->got, (size_t)n) != 0) {
        errno = 0;
        fail(4, "connection %ld: wrong bytes echoed in message %u at offset %zu", i, c->seq,
             c->got);
    }
    c->got += (size_t)n;
    return c->got == size;
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 7) {
        fprintf(stderr, "usage: echo_client HOST PORT SIZE CONNS [SNDBUF RCVBUF]\n");
        return 64;
    }
    long port = strtol(argv[2], NULL, 10);
    long lsize = strtol(argv[3], NULL, 10);
    long nconn = strtol(argv[4], NULL, 10);
    int sndbuf = argc == 7 ? atoi(argv[5]) : 0, rcvbuf = argc == 7 ? atoi(argv[6]) : 0;
    if (port <= 0 || port > 65535 || lsize <= 0 || lsize > (1L << 30) || nconn <= 0 ||
        nconn > 4096) {
        fprintf(stderr, "echo_client: bad arguments\n");
        return 64;
    }
    size = (size_t)lsize;
    rcap = size < (256u << 10) ? size : (256u << 10);
    pattern = malloc(size + 256);
    rbuf = malloc(rcap);
    struct conn *conns = calloc((size_t)nconn, sizeof *conns);
    if (!pattern || !rbuf || !conns)
        fail(2, "malloc");
    for (size_t k = 0; k < size + 256; k++)
        pattern[k] = (unsigned char)k;
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        fail(2, "epoll_create1");
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
        fprintf(stderr, "echo_client: not an IPv4 address: %s\n", argv[1]);
        return 64;
    }
    int one = 1, got_snd = 0, got_rcv = 0;
    socklen_t sl = sizeof got_snd;
    for (long i = 0; i < nconn; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            fail(2, "socket");
        if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) < 0)
            fail(2, "SO_SNDBUF");
        if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0)
            fail(2, "SO_RCVBUF");
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            fail(2, "connect to %s:%ld", argv[1], port);
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
            fail(2, "TCP_NODELAY");
        if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
            fail(2, "O_NONBLOCK");
        struct epoll_event ev;
        ev.events = EPOLLIN;
        ev.data.u64 = (unsigned long long)i;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
            fail(2, "epoll_ctl");
        conns[i].fd = fd;
        if (i == 0) {
            getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &got_snd, &sl);
            sl = sizeof got_rcv;
            getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got_rcv, &sl);
        }
    }
    printf("ready %d %d\n", got_snd, got_rcv);
    fflush(stdout);
    char line[64];
    struct epoll_event evs[MAX_EVENTS];
    while (fgets(line, sizeof line, stdin)) {
        char *end;
        long n = strtol(line, &end, 10);
        if (n <= 0 || (*end != '\n' && *end != '\0')) {
            fprintf(stderr, "echo_client: bad round line %s", line);
            return 64;
        }
        long active = nconn;
        for (long i = 0; i < nconn; i++) {
            conns[i].left = n;
            conns[i].sent = conns[i].got = 0;
            push(&conns[i], i);
        }
        while (active) {
            int k = epoll_wait(ep, evs, MAX_EVENTS, STALL_MS);
            if (k < 0) {
                if (errno == EINTR)
                    continue;
                fail(2, "epoll_wait");
            }
            if (k == 0) {
                errno = 0;
                fail(3, "no progress for %d s (%ld of %ld connections unfinished)",
                     STALL_MS / 1000, active, nconn);
            }
            for (int j = 0; j < k; j++) {
                long i = (long)evs[j].data.u64;
                struct conn *c = &conns[i];
                if ((evs[j].events & EPOLLOUT) && c->sent < size)
                    push(c, i);
                if (!(evs[j].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                    continue;
                if (c->left == 0) {
                    stray(c, i);
                    continue;
                }
                if (!pull(c, i))
                    continue;
                c->seq++;
                c->sent = c->got = 0;
                if (--c->left == 0) {
                    active--;
                    continue;
                }
                push(c, i);
            }
        }
        fputs("done\n", stdout);
        fflush(stdout);
    }
    for (long i = 0; i < nconn; i++)
        close(conns[i].fd);
    return 0;
}
