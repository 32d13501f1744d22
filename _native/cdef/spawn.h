/* Process spawn without Python between fork and exec (csrc/ffi/spawn.c). */
struct vllsi_spawn_req {
    const char *const *paths;
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int stdio_mode[3];
    int stdio_fd[3];
    const int *pass_fds;
    int npass;
    int flags;
    int parent_fds[3];
    int err_stage;
};
long vllsi_spawn(struct vllsi_spawn_req *req);
