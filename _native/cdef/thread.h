/* Threads with a real stack size (pthread_create in C, Python entry via extern "Python"). */
extern "Python" void _vllsi_thread_entry(void *);
struct vllsi_thread;
int vllsi_thread_create(size_t stack_size, void *arg, struct vllsi_thread **out);
int vllsi_thread_join(struct vllsi_thread *t);
int vllsi_thread_detach(struct vllsi_thread *t);
void vllsi_thread_release(struct vllsi_thread *t);
int vllsi_thread_tid(struct vllsi_thread *t);
uint32_t *vllsi_thread_done_word(struct vllsi_thread *t);
int vllsi_stack_probe(uintptr_t *sp, uintptr_t *lo, size_t *size);
