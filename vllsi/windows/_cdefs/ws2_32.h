/* ws2_32.dll */
int WSAStartup(WORD wVersionRequested, WSADATA *lpWSAData);
int WSAGetLastError(void);
SOCKET WSASocketW(int af, int type, int protocol, LPWSAPROTOCOL_INFOW lpProtocolInfo, GROUP g,
                  DWORD dwFlags);
int closesocket(SOCKET s);
int bind(SOCKET s, const struct sockaddr *name, int namelen);
int listen(SOCKET s, int backlog);
SOCKET accept(SOCKET s, struct sockaddr *addr, int *addrlen);
int connect(SOCKET s, const struct sockaddr *name, int namelen);
int send(SOCKET s, const char *buf, int len, int flags);
int recv(SOCKET s, char *buf, int len, int flags);
int shutdown(SOCKET s, int how);
int setsockopt(SOCKET s, int level, int optname, const char *optval, int optlen);
int getsockopt(SOCKET s, int level, int optname, char *optval, int *optlen);
int getsockname(SOCKET s, struct sockaddr *name, int *namelen);
int getpeername(SOCKET s, struct sockaddr *name, int *namelen);
int ioctlsocket(SOCKET s, long cmd, ULONG *argp);
int WSAIoctl(SOCKET s, DWORD dwIoControlCode, PVOID lpvInBuffer, DWORD cbInBuffer,
             PVOID lpvOutBuffer, DWORD cbOutBuffer, DWORD *lpcbBytesReturned,
             OVERLAPPED *lpOverlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
int WSARecv(SOCKET s, WSABUF *lpBuffers, DWORD dwBufferCount, DWORD *lpNumberOfBytesRecvd,
            DWORD *lpFlags, OVERLAPPED *lpOverlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
int WSASend(SOCKET s, WSABUF *lpBuffers, DWORD dwBufferCount, DWORD *lpNumberOfBytesSent,
            DWORD dwFlags, OVERLAPPED *lpOverlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
